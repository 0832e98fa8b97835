package clip

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// folders are the PyTorch twin's CLIPs (tools/golden/torch_clip.py):
// clip-tiny in F32 with quick GELU and the first configs' eos_token_id 2
// (each text pooled at its highest id); clip-tiny-eos in BF16 with exact
// GELU, pooled at the first end-of-text token, its processor resizing the
// shortest edge to 40 before a 32×32 crop.
var folders = []string{"clip-tiny", "clip-tiny-eos"}

func load(t *testing.T, name string) (*Model, vit.Processor) {
	t.Helper()
	dir := filepath.Join(golden.Root(t), "testdata", "hf", name)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProcessor(dir, m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

// pixelsOf prepares testdata/images' files with p, one after another.
func pixelsOf(t *testing.T, p vit.Processor, names []string) []float32 {
	t.Helper()
	var px []float32
	for _, name := range names {
		im, err := vit.ReadImage(filepath.Join(golden.Root(t), "testdata", "images", name))
		if err != nil {
			t.Fatal(err)
		}
		x, err := p.Pixels(im)
		if err != nil {
			t.Fatal(err)
		}
		px = append(px, x...)
	}
	return px
}

// inputs reads a reference's texts (ids and padding) and images.
func inputs(f *golden.File) (ids []int, pad []bool, b, t int) {
	ids = f.Ints("input.ids")
	info, _ := f.Info("input.ids")
	b, t = info.Shape[0], info.Shape[1]
	for _, m := range f.Ints("input.attention_mask") {
		pad = append(pad, m == 0)
	}
	return ids, pad, b, t
}

// checkImages compares the vision tower's hidden and pooled states, the
// image embeddings of px (n images) and the logits against the text
// embeddings te with f's, returning the largest errors of the hidden
// states and the logits.
func checkImages(t *testing.T, m *Model, f *golden.File, px []float32, n int, te *tensor.Tensor) (dv, dl float64) {
	t.Helper()
	vh, vp, err := m.VisionForward(autograd.NewTape(nil), f.Tensor("image.pixels").Data, n)
	if err != nil {
		t.Fatal(err)
	}
	dv = golden.CheckAbs(t, "vision hidden", vh.Value.Data, f.Tensor("vision.hidden").Data, 1e-4)
	golden.CheckAbs(t, "vision pooled", vp.Value.Data, f.Tensor("vision.pooled").Data, 1e-4)
	ie, err := m.ImageEmbeds(px, n)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "image embeds", ie.Data, f.Tensor("image.embeds").Data, 1e-4)
	logits, err := m.Similarities(ie, te)
	if err != nil {
		t.Fatal(err)
	}
	dl = golden.CheckAbs(t, "logits per image", logits.Data, f.Tensor("logits_per_image").Data, 1e-4)
	return dv, dl
}

// checkSameEmbeds requires back, a saved and reloaded m, to embed f's texts
// (pad may be nil) and its three images exactly as m does.
func checkSameEmbeds(t *testing.T, m, back *Model, f *golden.File, ids []int, pad []bool, b, n int) {
	t.Helper()
	e1, _ := m.TextEmbeds(ids, pad, b, n)
	e2, _ := back.TextEmbeds(ids, pad, b, n)
	i1, _ := m.ImageEmbeds(f.Tensor("image.pixels").Data, 3)
	i2, _ := back.ImageEmbeds(f.Tensor("image.pixels").Data, 3)
	if !slices.Equal(e1.Data, e2.Data) || !slices.Equal(i1.Data, i2.Data) {
		t.Error("the reloaded model's embeddings differ")
	}
}

// TestMatchesPyTorch compares both towers (hidden states, pooled states,
// embeddings), the pooled positions and the image-text logits with CLIP in
// PyTorch, and the image processor's pixels (shortest edge, centre crop,
// CLIP's normalisation) with HF's through Pillow.
func TestMatchesPyTorch(t *testing.T) {
	images := []string{"rgb.png", "gray.png", "rgba.png"}
	for _, name := range folders {
		t.Run(name, func(t *testing.T) {
			f := golden.Open(t, "hf/"+name+"/reference.safetensors")
			m, p := load(t, name)
			ids, pad, b, n := inputs(f)
			px := pixelsOf(t, p, images)
			golden.CheckAbs(t, "pixels", px, f.Tensor("image.pixels").Data, 1e-6)

			want := f.Ints("text.pool_index")
			if got := m.Cfg.eosPositions(ids, b, n); !slices.Equal(got, want) {
				t.Errorf("pooled positions %v; want %v", got, want)
			}
			tp := autograd.NewTape(nil)
			hidden, pooled, err := m.TextForward(tp, ids, pad, b, n)
			if err != nil {
				t.Fatal(err)
			}
			// Padded positions' states depend on how a fully masked row is
			// read; compare the rest.
			c := m.Cfg.Text.Hidden
			ref := f.Tensor("text.hidden").Data
			for i, isPad := range pad {
				if isPad {
					copy(hidden.Value.Data[i*c:(i+1)*c], ref[i*c:(i+1)*c])
				}
			}
			dh := golden.CheckAbs(t, "text hidden", hidden.Value.Data, ref, 1e-4)
			golden.CheckAbs(t, "text pooled", pooled.Value.Data, f.Tensor("text.pooled").Data, 1e-4)
			te, err := m.TextEmbeds(ids, pad, b, n)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckAbs(t, "text embeds", te.Data, f.Tensor("text.embeds").Data, 1e-4)
			dv, dl := checkImages(t, m, f, px, len(images), te)
			t.Logf("%s max abs error: text hidden %.2e, vision hidden %.2e, logits %.2e", name, dh, dv, dl)
		})
	}
}

// TestSave writes each CLIP back as a HuggingFace folder, which loads with
// the same outputs and processor (tools/golden/torch_clip.py --check DIR
// REF runs such a folder in PyTorch); position_ids buffers that older HF
// versions stored are skipped.
func TestSave(t *testing.T) {
	for _, name := range folders {
		t.Run(name, func(t *testing.T) {
			f := golden.Open(t, "hf/"+name+"/reference.safetensors")
			m, p := load(t, name)
			dir := t.TempDir()
			if err := Save(dir, m, p); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			var cfg map[string]any
			if err := json.Unmarshal(raw, &cfg); err != nil || cfg["model_type"] != "clip" || cfg["architectures"].([]any)[0] != "CLIPModel" ||
				cfg["text_config"].(map[string]any)["model_type"] != "clip_text_model" || cfg["vision_config"].(map[string]any)["patch_size"] != 8.0 {
				t.Errorf("config.json: %s, %v", raw, err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			bp, err := LoadProcessor(dir, back.Cfg)
			if err != nil || bp.Size != p.Size || *bp.CropSize != *p.CropSize || back.Cfg != m.Cfg {
				t.Errorf("reloaded: %v; processor %+v, config %+v", err, bp, back.Cfg)
			}
			ids, pad, b, n := inputs(f)
			checkSameEmbeds(t, m, back, f, ids, pad, b, n)

			// A folder holding the position_ids buffers loads the same.
			src := filepath.Join(golden.Root(t), "testdata", "hf", name)
			sf, err := safetensors.Open(filepath.Join(src, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer sf.Close()
			var kept []safetensors.Tensor
			for _, n := range sf.Names() {
				raw, info, err := sf.Raw(n)
				if err != nil {
					t.Fatal(err)
				}
				kept = append(kept, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
			}
			buf := make([]byte, 8*77)
			kept = append(kept, safetensors.Tensor{Name: "text_model.embeddings.position_ids", DType: "I64", Shape: []int{1, 77}, Data: buf})
			withBuf := t.TempDir()
			cfgRaw, _ := os.ReadFile(filepath.Join(src, "config.json"))
			os.WriteFile(filepath.Join(withBuf, "config.json"), cfgRaw, 0o644)
			if err := safetensors.WriteFile(filepath.Join(withBuf, "model.safetensors"), kept, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(withBuf); err != nil {
				t.Errorf("with position_ids: %v", err)
			}
		})
	}
}

// TestBadInput: malformed configs, texts and images give errors naming the
// problem.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "clip_text_model"}`, `model_type "clip_text_model" is not clip`},
		{`{"model_type": "clip", "architectures": ["CLIPTextModelWithProjection"]}`, "only CLIPModel"},
		{`{"model_type": "clip", "vision_config": {"image_size": 16, "patch_size": 32}}`, "image_size 16 is smaller than patch_size 32"},
		{`{"model_type": "clip", "text_config": {"hidden_act": "swiglu"}}`, "text_config: clip: hidden_act"},
		{`{"model_type": "clip", "projection_dim": 0}`, "projection_dim 0"},
	} {
		var c Config
		err := json.Unmarshal([]byte(tc.json), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming %s", tc.json, err, tc.want)
		}
	}
	m, _ := load(t, "clip-tiny")
	tp := autograd.NewTape(nil)
	if _, _, err := m.TextForward(tp, make([]int, 17), nil, 1, 17); err == nil || !strings.Contains(err.Error(), "exceeds max_position_embeddings 16") {
		t.Errorf("a long text: %v", err)
	}
	if _, _, err := m.TextForward(tp, []int{38, 40}, nil, 1, 2); err == nil || !strings.Contains(err.Error(), "token id 40") {
		t.Errorf("an id outside the vocabulary: %v", err)
	}
	if _, err := m.ImageEmbeds(make([]float32, 100), 1); err == nil || !strings.Contains(err.Error(), "not 1 images of 3×32×32") {
		t.Errorf("wrong pixels: %v", err)
	}
	if _, err := m.Similarities(tensor.New(2, 16), tensor.New(3, 8)); err == nil {
		t.Error("embeddings of different widths: no error")
	}
}

// TestOldConfigs reads the forms of openai/clip-vit-*'s first files: the
// towers' *_config_dict keys, which replace text_config and vision_config
// over HF's defaults (eos_token_id 49407 included), and a
// CLIPFeatureExtractor's "size": 224, the shortest edge.
func TestOldConfigs(t *testing.T) {
	var c Config
	raw := `{"model_type": "clip", "text_config": {"eos_token_id": 2, "hidden_size": 32, "hidden_act": "gelu"},
		"text_config_dict": {"hidden_size": 768, "num_attention_heads": 12}, "vision_config_dict": {"patch_size": 14, "image_size": 336}}`
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	if c.Text.Hidden != 768 || c.Text.Heads != 12 || c.Text.EOSID != 49407 || c.Text.Act != "quick_gelu" || c.Vision.PatchSize != 14 || c.Vision.ImageSize != 336 {
		t.Errorf("with *_config_dict: %+v", c)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "preprocessor_config.json"), []byte(`{"crop_size": 224, "do_center_crop": true, "do_normalize": true,
		"do_resize": true, "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
		"image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}`), 0o644)
	p, err := LoadProcessor(dir, DefaultConfig())
	if err != nil || p.Size != (vit.Size{ShortestEdge: 224}) || *p.CropSize != (vit.Size{Height: 224, Width: 224}) {
		t.Fatalf("CLIPFeatureExtractor file: %+v, %v", p, err)
	}
	// A 448×224 image in thirds black, grey and white: HF keeps its aspect
	// ratio and crops the middle.
	img := image.NewGray(image.Rect(0, 0, 448, 224))
	for x := range 448 {
		for y := range 224 {
			img.SetGray(x, y, color.Gray{uint8(127 * (3 * x / 448))})
		}
	}
	px, err := p.Pixels(img)
	if err != nil {
		t.Fatal(err)
	}
	// Column 50 of the crop is the image's 162 (grey); squashed to 224×224
	// it would be column 100 (black).
	if want := (float32(127)/255 - p.Mean[0]) / p.Std[0]; math.Abs(float64(px[50]-want)) > 1e-5 {
		t.Errorf("the crop's column 50 %v; want the grey's %v", px[50], want)
	}
}

// TestUnevenPatches: an image size that patches do not divide (SigLIP
// so400m's 384 with patches of 14) drops its last pixels, as HF's
// convolution without padding does: they change nothing.
func TestUnevenPatches(t *testing.T) {
	c := DefaultConfig()
	c.Text.Layers, c.Vision.Layers = 1, 1
	c.Vision.ImageSize, c.Vision.PatchSize = 30, 7 // 4×4 patches, 2 pixels left over
	m, err := New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	px := tensor.New(1, 3, 30, 30)
	tensor.NewRNG(4).FillNormal(px, 0, 1)
	a, err := m.ImageEmbeds(px.Data, 1)
	if err != nil {
		t.Fatal(err)
	}
	for ch := range 3 { // change the last two rows and columns
		for y := range 30 {
			for x := range 30 {
				if x >= 28 || y >= 28 {
					px.Data[(ch*30+y)*30+x] = 9
				}
			}
		}
	}
	b, err := m.ImageEmbeds(px.Data, 1)
	if err != nil || !slices.Equal(a.Data, b.Data) || c.Vision.Patches() != 16 {
		t.Errorf("the pixels past the last patch changed the embedding (%v), or %d patches", err, c.Vision.Patches())
	}
}

// TestDefaults checks CLIPConfig's defaults (ViT-B/32) and that New builds
// them.
func TestDefaults(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "clip"}`), &c); err != nil || c != DefaultConfig() {
		t.Fatalf("%+v, %v", c, err)
	}
	if c.Vision.Patches() != 49 || c.Text.MaxPositions != 77 {
		t.Errorf("patches %d, positions %d", c.Vision.Patches(), c.Text.MaxPositions)
	}
}
