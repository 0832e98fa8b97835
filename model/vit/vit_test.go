package vit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// The references are written by tools/golden/torch_vit.py (Pillow for the
// images, a float64 PyTorch ViT for the model).
var imageNames = []string{"rgb", "rgba", "gray"}

func reference(t *testing.T) *golden.File {
	t.Helper()
	return golden.Open(t, "hf/vit-tiny/reference.safetensors")
}

func readImage(t *testing.T, name string) image.Image {
	t.Helper()
	img, err := ReadImage(filepath.Join(golden.Root(t), "testdata", "images", name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func folder(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(golden.Root(t), "testdata", "hf", name)
}

func load(t *testing.T, name string) (*Model, Processor) {
	t.Helper()
	m, err := Load(folder(t, name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProcessor(folder(t, name), m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

// batch returns the three test images as one batch of pixels.
func batch(t *testing.T, p Processor) []float32 {
	t.Helper()
	var px []float32
	for _, name := range imageNames {
		x, err := p.Pixels(readImage(t, name))
		if err != nil {
			t.Fatal(err)
		}
		px = append(px, x...)
	}
	return px
}

// TestResizeMatchesPillow resizes each test image (RGB, RGBA and grey, so
// the conversion to RGB too) to 29×35 with each of Pillow's filters: every
// pixel must equal Pillow's.
func TestResizeMatchesPillow(t *testing.T) {
	f := reference(t)
	for id := 1; id <= 5; id++ {
		for _, name := range imageNames {
			rgb, w, h := toRGB(readImage(t, name))
			out, ow, oh := resize(rgb, w, h, 29, 35, filters[id])
			want := f.Ints("resized.filter" + string(rune('0'+id)) + "." + name)
			if ow != 29 || oh != 35 || len(out) != len(want) {
				t.Fatalf("filter %d, %s: %d×%d, %d values; want 29×35, %d", id, name, ow, oh, len(out), len(want))
			}
			diff := 0
			for i, v := range out {
				if int(v) != want[i] {
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("filter %d, %s (%d×%d): %d of %d values differ from Pillow's", id, name, w, h, diff, len(out))
			}
		}
	}
}

// TestPixelsMatchHF prepares the images with the folders' processors
// (bilinear with mean and std 0.5; bicubic with ImageNet's; DeiT's resize
// and centre crop): the pixels must equal ViTImageProcessor's and
// DeiTImageProcessor's.
func TestPixelsMatchHF(t *testing.T) {
	f := reference(t)
	for dir, proc := range map[string]string{"vit-tiny": "bilinear", "vit-tiny-bf16": "bicubic", "deit-tiny-distilled": "deit"} {
		_, p := load(t, dir)
		for _, name := range imageNames {
			got, err := p.Pixels(readImage(t, name))
			if err != nil {
				t.Fatal(err)
			}
			want := f.Tensor("pixels." + proc + "." + name).Data
			if d, i := golden.MaxAbs(got, want); d > 0 {
				t.Errorf("%s, %s: pixel %d is %v; HF's is %v", proc, name, i, got[i], want[i])
			}
		}
	}
}

// TestMatchesPyTorch compares the hidden states, logits and pooled output of
// both checkpoints (F32 ViTForImageClassification, BF16 ViTModel) with ViT
// in PyTorch (float64, from the same stored weights).
func TestMatchesPyTorch(t *testing.T) {
	f := reference(t)

	m, p := load(t, "vit-tiny")
	if m.Pooler != nil || m.Labels() != 5 {
		t.Fatalf("vit-tiny: pooler %v, %d labels; want no pooler, 5 labels", m.Pooler != nil, m.Labels())
	}
	px := batch(t, p)
	hidden, pooled, err := m.Encode(px, 3)
	if err != nil {
		t.Fatal(err)
	}
	if pooled != nil || !slices.Equal(hidden.Shape, []int{3, 17, 32}) {
		t.Fatalf("hidden %v, pooled %v; want [3 17 32] and none", hidden.Shape, pooled)
	}
	dh := golden.CheckAbs(t, "hidden", hidden.Data, f.Tensor("f32.hidden").Data, 1e-4)
	logits, err := m.Classify(px, 3)
	if err != nil {
		t.Fatal(err)
	}
	dl := golden.CheckAbs(t, "logits", logits.Data, f.Tensor("f32.logits").Data, 1e-4)
	t.Logf("f32: max abs error hidden %.2e, logits %.2e", dh, dl)
	if m.Cfg.Label(3) != "espresso" || m.Cfg.Label(7) != "LABEL_7" {
		t.Errorf("labels 3 and 7: %q, %q", m.Cfg.Label(3), m.Cfg.Label(7))
	}

	m, p = load(t, "vit-tiny-bf16")
	if m.Pooler == nil || m.Labels() != 0 {
		t.Fatalf("vit-tiny-bf16: pooler %v, %d labels; want a pooler, no labels", m.Pooler != nil, m.Labels())
	}
	px = batch(t, p)
	hidden, pooled, err = m.Encode(px, 3)
	if err != nil {
		t.Fatal(err)
	}
	dh = golden.CheckAbs(t, "hidden", hidden.Data, f.Tensor("bf16.hidden").Data, 1e-4)
	dp := golden.CheckAbs(t, "pooled", pooled.Data, f.Tensor("bf16.pooled").Data, 1e-4)
	t.Logf("bf16: max abs error hidden %.2e, pooled %.2e", dh, dp)
	if _, err := m.Classify(px, 3); err == nil || !strings.Contains(err.Error(), "no classifier") {
		t.Errorf("Classify without a classifier: err = %v", err)
	}

	m, p = load(t, "deit-tiny-distilled")
	if !m.Cfg.Distilled || m.Teacher == nil || m.Labels() != 4 || m.Cfg.Label(3) != "dog" {
		t.Fatalf("deit-tiny-distilled: distilled %v, teacher heads %v, %d labels", m.Cfg.Distilled, m.Teacher != nil, m.Labels())
	}
	px = batch(t, p)
	hidden, _, err = m.Encode(px, 3)
	if err != nil {
		t.Fatal(err)
	}
	dh = golden.CheckAbs(t, "hidden", hidden.Data, f.Tensor("deit.hidden").Data, 1e-4)
	if logits, err = m.Classify(px, 3); err != nil {
		t.Fatal(err)
	}
	dl = golden.CheckAbs(t, "logits", logits.Data, f.Tensor("deit.logits").Data, 1e-4)
	t.Logf("deit (F16): max abs error hidden %.2e, logits %.2e", dh, dl)
}

// TestGradientsMatchPyTorch fine-tunes one step's worth: the mean
// cross-entropy of the three images' logits and its gradients with respect
// to the class token, the positions, the patch projection and some layer
// weights must equal PyTorch's.
func TestGradientsMatchPyTorch(t *testing.T) {
	f := reference(t)
	m, p := load(t, "vit-tiny")
	tp := autograd.NewTape(tensor.NewRNG(1))
	h, err := m.Forward(tp, batch(t, p), 3)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Logits(tp, h)
	if err != nil {
		t.Fatal(err)
	}
	loss := tp.CrossEntropy(logits, []int{1, 3, 0}, -1, 0)
	tp.Backward(loss)
	golden.CheckAbs(t, "loss", []float32{loss.Item()}, f.Tensor("f32.loss").Data, 1e-5)
	params := map[string]*autograd.Var{}
	for _, p := range m.Params() {
		params[p.Name] = p.Var
	}
	for _, name := range []string{
		"embeddings.cls_token", "embeddings.position_embeddings", "embeddings.patch_embeddings.projection.weight",
		"encoder.layer.0.attention.attention.query.weight", "encoder.layer.1.layernorm_before.bias", "classifier.weight",
	} {
		v := params[name]
		if v == nil || v.Grad == nil {
			t.Fatalf("%s: no gradient", name)
		}
		d := golden.CheckAbs(t, name, v.Grad.Data, f.Tensor("f32.grad."+name).Data, 1e-5)
		t.Logf("%s: max abs error %.2e", name, d)
	}
}

// TestSaveLoad writes the loaded ViT and DeiT back as folders and loads
// them again: HF's names (the task class's prefix before the base model,
// the heads as they are), the config (labels, DeiT's distillation token),
// the processor (DeiT's crop) and the same logits.
// (tools/golden/torch_vit.py --check DIR runs such folders in PyTorch.)
func TestSaveLoad(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		names []string
	}{
		{"vit-tiny", []string{"vit.embeddings.cls_token", "vit.encoder.layer.1.output.dense.bias", "classifier.weight"}},
		{"deit-tiny-distilled", []string{"deit.embeddings.distillation_token", "cls_classifier.weight", "distillation_classifier.bias"}},
	} {
		m, p := load(t, tc.dir)
		dir := t.TempDir()
		if err := Save(dir, m, p); err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, ts := range m.Tensors() {
			names[ts.Name] = true
		}
		for _, want := range tc.names {
			if !names[want] {
				t.Errorf("%s: saved names lack %q", tc.dir, want)
			}
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := LoadProcessor(dir, back.Cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p2, p) || !reflect.DeepEqual(back.Cfg, m.Cfg) || (back.Teacher == nil) != (m.Teacher == nil) {
			t.Errorf("%s: read back config %+v, processor %+v; want %+v, %+v", tc.dir, back.Cfg, p2, m.Cfg, p)
		}
		px := batch(t, p)
		l1, err1 := m.Classify(px, 3)
		l2, err2 := back.Classify(px, 3)
		if err1 != nil || err2 != nil || !slices.Equal(l1.Data, l2.Data) {
			t.Errorf("%s: logits differ after saving (%v, %v)", tc.dir, err1, err2)
		}
	}
}

// TestTrainFromScratch trains a new two-layer ViT on the three images with
// Adam: it must learn their labels (the loss falls below a tenth of its
// start).
func TestTrainFromScratch(t *testing.T) {
	c := DefaultConfig()
	c.Hidden, c.Layers, c.Heads, c.Intermediate, c.ImageSize, c.PatchSize = 32, 2, 4, 64, 32, 8
	m, err := New(c, Parts{Labels: 3}, 5)
	if err != nil {
		t.Fatal(err)
	}
	px := batch(t, DefaultProcessor(c))
	var vars []*autograd.Var
	for _, p := range m.Params() {
		vars = append(vars, p.Var)
	}
	// Plain Adam, written here so the test needs nothing from package train.
	mom, vel := make([][]float32, len(vars)), make([][]float32, len(vars))
	var first, last float32
	for step := 1; step <= 60; step++ {
		tp := autograd.NewTape(tensor.NewRNG(uint64(step)))
		h, err := m.Forward(tp, px, 3)
		if err != nil {
			t.Fatal(err)
		}
		logits, _ := m.Logits(tp, h)
		loss := tp.CrossEntropy(logits, []int{0, 1, 2}, -1, 0)
		tp.Backward(loss)
		if step == 1 {
			first = loss.Item()
		}
		last = loss.Item()
		for i, v := range vars {
			if mom[i] == nil {
				mom[i], vel[i] = make([]float32, len(v.Value.Data)), make([]float32, len(v.Value.Data))
			}
			for j, g := range v.Grad.Data {
				mom[i][j] = 0.9*mom[i][j] + 0.1*g
				vel[i][j] = 0.999*vel[i][j] + 0.001*g*g
				mh := mom[i][j] / (1 - float32(math.Pow(0.9, float64(step))))
				vh := vel[i][j] / (1 - float32(math.Pow(0.999, float64(step))))
				v.Value.Data[j] -= 3e-3 * mh / (float32(math.Sqrt(float64(vh))) + 1e-8)
			}
			v.ZeroGrad()
		}
	}
	t.Logf("loss %.4f → %.4f in 60 steps", first, last)
	if !(last < first/10) {
		t.Errorf("loss %.4f → %.4f; want it below a tenth of the start", first, last)
	}
}

// TestBadInput checks that malformed checkpoints, processors, images and
// pixel batches are errors that name the problem.
func TestBadInput(t *testing.T) {
	_, err := Load(folder(t, "vit-tiny-wrong-shape"))
	if err == nil || !strings.Contains(err.Error(), `"vit.embeddings.patch_embeddings.projection.weight"`) || !strings.Contains(err.Error(), "[32 3 4 4] does not match config [32 3 8 8]") {
		t.Errorf("wrong patch kernel: err = %v", err)
	}

	m, p := load(t, "vit-tiny")
	if _, err := m.Classify(make([]float32, 100), 1); err == nil || !strings.Contains(err.Error(), "100 pixel values are not 1 images of 3×32×32") {
		t.Errorf("wrong pixel count: err = %v", err)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, readImage(t, "rgb")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImage(bad); err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("truncated PNG: err = %v", err)
	}

	noResize := p
	noResize.DoResize = false
	if _, err := noResize.Pixels(readImage(t, "rgb")); err == nil || !strings.Contains(err.Error(), "45×38 and resizing is off") {
		t.Errorf("no resize: err = %v", err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"resample": 0}`, "resample 0 is not supported"},
		{`{"size": {"shortest_edge": 32}}`, `shortest_edge without a centre crop`},
		{`{"size": {"shortest_edge": 32, "height": 3}}`, `want {"height", "width"} or {"shortest_edge"}`},
		{`{"size": 48}`, "size 48×48 differs from the model's image_size 32"},
		{`{"do_center_crop": true}`, "do_center_crop without a crop_size"},
		{`{"do_center_crop": true, "crop_size": {"height": 40, "width": 40}}`, "crop_size 40×40 is larger than the resized 32×32"},
		{`{"do_center_crop": true, "crop_size": {"height": 24, "width": 24}}`, "size 24×24 differs from the model's image_size 32"},
		{`{"image_mean": [0.5]}`, "one value per RGB channel"},
		{`{"image_std": [0.5, 0, 0.5]}`, "image_std [0.5 0 0.5] must be positive"},
		{`{"size": `, "preprocessor_config.json"},
	} {
		if err := os.WriteFile(filepath.Join(dir, ProcessorFile), []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadProcessor(dir, m.Cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want %q", tc.json, err, tc.want)
		}
	}
}

// TestPixelsDegenerateImages prepares one-pixel-wide, one-pixel and very
// elongated images with every filter: no panic, the model's size, and a
// flat image stays flat (its one colour, normalised).
func TestPixelsDegenerateImages(t *testing.T) {
	c := DefaultConfig()
	c.ImageSize = 32
	for id := range filters {
		p := DefaultProcessor(c)
		p.Resample = id
		for _, size := range [][2]int{{1, 1}, {1, 300}, {300, 1}, {33, 2}, {32, 32}, {1000, 3}} {
			img := image.NewNRGBA(image.Rect(0, 0, size[0], size[1]))
			for i := 0; i < len(img.Pix); i += 4 {
				img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 200, 100, 0, 255
			}
			px, err := p.Pixels(img)
			if err != nil || len(px) != 3*32*32 {
				t.Fatalf("filter %d, %v: %d values, %v", id, size, len(px), err)
			}
			for ch, v := range []float32{200, 100, 0} {
				want := (float32(float64(v)/255) - 0.5) / 0.5
				for _, x := range px[ch*32*32 : (ch+1)*32*32] {
					if x != want {
						t.Fatalf("filter %d, %v, channel %d: %v; want %v everywhere", id, size, ch, x, want)
					}
				}
			}
		}
	}
	if _, err := DefaultProcessor(c).Pixels(image.NewNRGBA(image.Rect(0, 0, 0, 5))); err == nil {
		t.Error("an empty image gave no error")
	}
}

// FuzzDecodePixels feeds arbitrary bytes to DecodeImage and what decodes
// to Pixels: errors are fine, panics are not.
func FuzzDecodePixels(f *testing.F) {
	for _, name := range imageNames {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name+".png"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	c := DefaultConfig()
	c.ImageSize = 16
	p := DefaultProcessor(c)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data)
		if err != nil {
			return
		}
		if px, err := p.Pixels(img); err == nil && len(px) != 3*16*16 {
			t.Errorf("%d pixel values", len(px))
		}
	})
}

// TestJPEGMatchesPillow decodes JPEGs with 4:4:4, 4:2:2 and 4:2:0 chroma:
// the RGB pixels must be Pillow's (libjpeg's) but for the inverse DCT's
// rounding, which Go's decoder does its own way: at most 3 levels apart,
// under 0.1 on average. (Go's own conversion, repeating chroma samples
// instead of libjpeg's interpolation, is off by 1.8 levels on average and
// up to 18 on a photo-like image.)
func TestJPEGMatchesPillow(t *testing.T) {
	f := reference(t)
	for _, name := range []string{"s444", "s422", "s420", "tiny420"} {
		img, err := ReadImage(filepath.Join(golden.Root(t), "testdata", "images", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		rgb, _, _ := toRGB(img)
		want := f.Ints("jpeg." + name)
		if len(rgb) != len(want) {
			t.Fatalf("%s: %d values; want %d", name, len(rgb), len(want))
		}
		var sum, worst float64
		for i, v := range rgb {
			d := math.Abs(float64(v) - float64(want[i]))
			sum, worst = sum+d, max(worst, d)
		}
		mean := sum / float64(len(rgb))
		t.Logf("%s: mean difference %.4f levels, largest %.0f", name, mean, worst)
		if worst > 3 || mean > 0.1 {
			t.Errorf("%s: mean difference %.4f levels, largest %.0f; want at most 0.1 and 3", name, mean, worst)
		}
	}
}

// TestAugmented checks RandomResizedCrop and the flip: the model's size,
// the same output from the same RNG state, crops inside the image for any
// shape, a flat image kept flat, and both orientations of a half-dark
// image over many draws.
func TestAugmented(t *testing.T) {
	c := DefaultConfig()
	c.ImageSize = 16
	p := DefaultProcessor(c)
	img := readImage(t, "rgb")
	a, err := p.Augmented(img, tensor.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Augmented(img, tensor.NewRNG(3))
	d, _ := p.Augmented(img, tensor.NewRNG(4))
	if len(a) != 3*16*16 || !slices.Equal(a, b) || slices.Equal(a, d) {
		t.Errorf("%d values; same seed same output %v; another seed another %v", len(a), slices.Equal(a, b), !slices.Equal(a, d))
	}
	rng := tensor.NewRNG(5)
	for _, size := range [][2]int{{1, 1}, {1, 300}, {300, 1}, {45, 38}, {2, 3}} {
		for range 50 {
			x0, y0, cw, ch := randomCrop(size[0], size[1], rng)
			if x0 < 0 || y0 < 0 || cw < 1 || ch < 1 || x0+cw > size[0] || y0+ch > size[1] {
				t.Fatalf("%v: crop at (%d, %d) of %d×%d", size, x0, y0, cw, ch)
			}
		}
	}
	half := image.NewGray(image.Rect(0, 0, 40, 40))
	for y := range 40 {
		for x := 20; x < 40; x++ {
			half.Pix[y*40+x] = 255
		}
	}
	flipped := 0
	for i := range 40 {
		px, err := p.Augmented(half, tensor.NewRNG(uint64(100+i)))
		if err != nil {
			t.Fatal(err)
		}
		if px[0] > px[15] { // the left edge brighter than the right: mirrored
			flipped++
		}
	}
	if flipped < 8 || flipped > 32 {
		t.Errorf("%d of 40 draws mirrored; want about half", flipped)
	}
}

// TestSavedArchitecture names, in config.json, the HF class whose heads the
// saved weights have: a distilled DeiT whose two heads were replaced by one
// classifier is a DeiTForImageClassification.
func TestSavedArchitecture(t *testing.T) {
	m, p := load(t, "deit-tiny-distilled")
	fresh, err := New(m.Cfg, Parts{Labels: 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func()
		want   string
	}{
		{func() {}, "DeiTForImageClassificationWithTeacher"},
		{func() { m.Teacher, m.Classifier = nil, fresh.Classifier }, "DeiTForImageClassification"},
		{func() { m.Classifier = nil }, "DeiTModel"},
	} {
		tc.change()
		dir := t.TempDir()
		if err := Save(dir, m, p); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Architectures []string }
		if err := json.Unmarshal(raw, &c); err != nil || len(c.Architectures) != 1 || c.Architectures[0] != tc.want {
			t.Errorf("architectures %v (%v); want [%s]", c.Architectures, err, tc.want)
		}
	}
}

// TestEXIFOrientation reads PNGs with each EXIF orientation and a JPEG at
// orientation 6 (a phone held upright): the pixels must be Pillow's after
// ImageOps.exif_transpose, as HF's load_image turns images upright (the
// PNGs exactly, the JPEG to JPEG's tolerance).
func TestEXIFOrientation(t *testing.T) {
	f := reference(t)
	for o := 2; o <= 9; o++ {
		name, ref := fmt.Sprintf("orient%d.png", o), fmt.Sprintf("orient.%d", o)
		if o == 9 {
			name, ref = "orient6.jpg", "orient.6jpg"
		}
		img, err := ReadImage(filepath.Join(golden.Root(t), "testdata", "images", name))
		if err != nil {
			t.Fatal(err)
		}
		rgb, w, h := toRGB(img)
		want := f.Ints(ref)
		info, _ := f.Info(ref)
		if h != info.Shape[0] || w != info.Shape[1] || img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			t.Fatalf("%s: %d×%d (bounds %v); Pillow's upright image is %d×%d", name, w, h, img.Bounds(), info.Shape[1], info.Shape[0])
		}
		var worst int
		for i, v := range rgb {
			worst = max(worst, abs(int(v)-want[i]))
		}
		if (o <= 8 && worst != 0) || worst > 3 {
			t.Errorf("%s: largest difference %d levels from Pillow's upright pixels", name, worst)
		}
		if o <= 8 { // At turns the image the same way
			c := color.NRGBAModel.Convert(img.At(w-1, 0)).(color.NRGBA)
			if i := 3 * (w - 1); int(c.R) != want[i] || int(c.G) != want[i+1] || int(c.B) != want[i+2] {
				t.Errorf("%s: At(%d, 0) = %v; upright pixel %v", name, w-1, c, want[i:i+3])
			}
		}
	}
	if o := exifOrientation([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\x08")); o != 1 {
		t.Errorf("a truncated EXIF segment gave orientation %d", o)
	}
}

func abs(x int) int { return max(x, -x) }

// TestNRGBA64KeepsColour: 16-bit colour with alpha keeps each channel's
// high byte, translucent and transparent pixels included, as Pillow's
// convert("RGB") keeps them.
func TestNRGBA64KeepsColour(t *testing.T) {
	img := image.NewNRGBA64(image.Rect(0, 0, 2, 1))
	img.SetNRGBA64(0, 0, color.NRGBA64{R: 0xabcd, G: 0x1234, B: 0xff00, A: 0})
	img.SetNRGBA64(1, 0, color.NRGBA64{R: 0x0101, G: 0x8080, B: 0x7fff, A: 0x4000})
	rgb, _, _ := toRGB(img)
	if want := []uint8{0xab, 0x12, 0xff, 0x01, 0x80, 0x7f}; !slices.Equal(rgb, want) {
		t.Errorf("rgb %v; want the high bytes %v", rgb, want)
	}
}

// TestGray16ClipsAsPillow: Pillow opens a 16-bit grey PNG as integers and
// clips them at 255 in convert("RGB") (checked with Pillow 9.4: 0, 100,
// 255, 256, 1000, 65535 → 0, 100, 255, 255, 255, 255), so HF's pipeline
// sees that; toRGB must too.
func TestGray16ClipsAsPillow(t *testing.T) {
	img := image.NewGray16(image.Rect(0, 0, 6, 1))
	for i, v := range []uint16{0, 100, 255, 256, 1000, 65535} {
		img.SetGray16(i, 0, color.Gray16{Y: v})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	rgb, _, _ := toRGB(back)
	for i, want := range []uint8{0, 100, 255, 255, 255, 255} {
		if rgb[3*i] != want || rgb[3*i+1] != want || rgb[3*i+2] != want {
			t.Errorf("pixel %d: %v; Pillow gives %d", i, rgb[3*i:3*i+3], want)
		}
	}
}

// TestEXIFVariants reads orientations stored the ways writers differ: as a
// LONG, twice (the last wins, as in Pillow), after a JPEG fill byte, and in
// a PNG eXIf chunk after the image data.
func TestEXIFVariants(t *testing.T) {
	tiff := func(entries ...[3]uint32) []byte { // big-endian: tag, type, value
		b := []byte("MM\x00\x2a\x00\x00\x00\x08")
		b = binary.BigEndian.AppendUint16(b, uint16(len(entries)))
		for _, e := range entries {
			b = binary.BigEndian.AppendUint16(b, uint16(e[0]))
			b = binary.BigEndian.AppendUint16(b, uint16(e[1]))
			b = binary.BigEndian.AppendUint32(b, 1)
			if e[1] == 3 {
				b = binary.BigEndian.AppendUint16(b, uint16(e[2]))
				b = append(b, 0, 0)
			} else {
				b = binary.BigEndian.AppendUint32(b, e[2])
			}
		}
		return b
	}
	jpeg := func(t []byte, fill bool) []byte {
		b := []byte{0xff, 0xd8}
		if fill {
			b = append(b, 0xff)
		}
		seg := append([]byte("Exif\x00\x00"), t...)
		b = append(b, 0xff, 0xe1)
		b = binary.BigEndian.AppendUint16(b, uint16(len(seg)+2))
		return append(append(b, seg...), 0xff, 0xda, 0, 2)
	}
	png := func(t []byte) []byte {
		b := []byte("\x89PNG\r\n\x1a\n")
		for _, c := range []struct {
			typ  string
			data []byte
		}{{"IDAT", []byte{1, 2, 3}}, {"eXIf", t}, {"IEND", nil}} {
			b = binary.BigEndian.AppendUint32(b, uint32(len(c.data)))
			b = append(append(append(b, c.typ...), c.data...), 0, 0, 0, 0)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want int
	}{
		{"SHORT", jpeg(tiff([3]uint32{0x0112, 3, 6}), false), 6},
		{"LONG", jpeg(tiff([3]uint32{0x0112, 4, 8}), false), 8},
		{"twice", jpeg(tiff([3]uint32{0x0112, 3, 6}, [3]uint32{0x0112, 3, 3}), false), 3},
		{"fill byte", jpeg(tiff([3]uint32{0x0112, 3, 5}), true), 5},
		{"out of range", jpeg(tiff([3]uint32{0x0112, 3, 9}), false), 1},
		{"PNG after IDAT", png(tiff([3]uint32{0x0112, 3, 7})), 7},
	} {
		if got := exifOrientation(tc.data); got != tc.want {
			t.Errorf("%s: orientation %d; want %d", tc.name, got, tc.want)
		}
	}
}
