package clip

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
)

// siglipFolders are the PyTorch twin's SigLIPs (tools/golden/torch_siglip.py):
// siglip-tiny in F32 and siglip-tiny-bf16 in BF16 with exact GELU in its
// text tower and a bilinear processor.
var siglipFolders = []string{"siglip-tiny", "siglip-tiny-bf16"}

// TestSiglipMatchesPyTorch compares both towers (hidden states, pooled
// states, embeddings), the logits and the pixels with SigLIP in PyTorch, on
// texts padded to the model's positions without a mask (as HF's pipeline
// runs them), and once with the mask.
func TestSiglipMatchesPyTorch(t *testing.T) {
	images := []string{"rgb.png", "gray.png", "rgba.png"}
	for _, name := range siglipFolders {
		t.Run(name, func(t *testing.T) {
			f := golden.Open(t, "hf/"+name+"/reference.safetensors")
			m, p := load(t, name)
			if !m.Cfg.Siglip || m.Vision.Head == nil || m.Text.Head == nil || m.LogitBias == nil || m.TextProjection != nil {
				t.Fatalf("%s: %+v", name, m.Cfg)
			}
			px := pixelsOf(t, p, images)
			golden.CheckAbs(t, "pixels", px, f.Tensor("image.pixels").Data, 1e-6)
			ids, pad, b, n := inputs(f)
			hidden, pooled, err := m.TextForward(autograd.NewTape(nil), ids, nil, b, n)
			if err != nil {
				t.Fatal(err)
			}
			dh := golden.CheckAbs(t, "text hidden", hidden.Value.Data, f.Tensor("text.hidden").Data, 1e-4)
			golden.CheckAbs(t, "text pooled", pooled.Value.Data, f.Tensor("text.pooled").Data, 1e-4)
			te, err := m.TextEmbeds(ids, nil, b, n)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckAbs(t, "text embeds", te.Data, f.Tensor("text.embeds").Data, 1e-4)
			tm, err := m.TextEmbeds(ids, pad, b, n)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckAbs(t, "masked text embeds", tm.Data, f.Tensor("text.masked_embeds").Data, 1e-4)
			dv, dl := checkImages(t, m, f, px, len(images), te)
			t.Logf("%s max abs error: text hidden %.2e, vision hidden %.2e, logits %.2e", name, dh, dv, dl)
		})
	}
}

// TestSiglipSave writes each SigLIP back as a HuggingFace folder, which
// loads with the same outputs (tools/golden/torch_siglip.py --check DIR REF
// runs such a folder in PyTorch).
func TestSiglipSave(t *testing.T) {
	for _, name := range siglipFolders {
		t.Run(name, func(t *testing.T) {
			f := golden.Open(t, "hf/"+name+"/reference.safetensors")
			m, p := load(t, name)
			dir := t.TempDir()
			if err := Save(dir, m, p); err != nil {
				t.Fatal(err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if bp, err := LoadProcessor(dir, back.Cfg); err != nil || bp.Type != "SiglipImageProcessor" || bp.Resample != p.Resample || bp.Size != p.Size {
				t.Errorf("reloaded processor %+v, %v", bp, err)
			}
			if raw, _ := os.ReadFile(filepath.Join(dir, "config.json")); back.Cfg != m.Cfg {
				t.Errorf("config %+v; want %+v\n%s", back.Cfg, m.Cfg, raw)
			}
			ids, _, b, n := inputs(f)
			checkSameEmbeds(t, m, back, f, ids, nil, b, n)
		})
	}
}
