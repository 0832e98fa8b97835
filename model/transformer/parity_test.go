package transformer

import (
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/safetensors"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/nn"
)

// torchConfig is the part of the golden files' config metadata the model
// needs.
type torchConfig struct {
	DModel     int           `json:"d_model"`
	Heads      int           `json:"nhead"`
	DFF        int           `json:"dim_feedforward"`
	EncLayers  int           `json:"num_encoder_layers"`
	DecLayers  int           `json:"num_decoder_layers"`
	Activation nn.Activation `json:"activation"`
	NormFirst  bool          `json:"norm_first"`
	Eps        float32       `json:"layer_norm_eps"`
	SrcVocab   int           `json:"src_vocab_size"`
	TgtVocab   int           `json:"tgt_vocab_size"`
	PadID      int           `json:"pad_id"`
	Smoothing  float32       `json:"label_smoothing"`
	Shared     bool          `json:"shared_embeddings"`
	Tied       bool          `json:"tie_generator"`
}

// TestSeq2SeqMatchesPyTorch runs the whole model (embeddings, sinusoidal
// positions, nn.Transformer's encoder and decoder with padding and causal
// masks, generator, label-smoothed loss) on weights saved by PyTorch and
// compares logits, loss and every parameter's gradient.
func TestSeq2SeqMatchesPyTorch(t *testing.T) {
	for _, file := range []string{"seq2seq_postln_relu", "seq2seq_preln_gelu", "seq2seq_shared_tied"} {
		t.Run(file, func(t *testing.T) {
			f := golden.Open(t, "torch/"+file+".safetensors")
			var tc torchConfig
			f.Config(&tc)
			cfg := Config{
				SrcVocab: tc.SrcVocab, TgtVocab: tc.TgtVocab, DModel: tc.DModel, Heads: tc.Heads,
				EncoderLayers: tc.EncLayers, DecoderLayers: tc.DecLayers, DFF: tc.DFF,
				Activation: tc.Activation, NormFirst: tc.NormFirst, FinalNorm: true,
				Positions: Sinusoidal, MaxLen: 64, Eps: tc.Eps,
				ShareEmbeddings: tc.Shared, TieOutput: tc.Tied,
			}
			m, err := New(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			ps := m.Params()
			if err := nn.Load(ps, f.Get("param.")); err != nil {
				t.Fatal(err)
			}
			pe := f.Tensor("input.pe")
			golden.CheckAbs(t, "sinusoidal table", m.pe.Data[:pe.Len()], pe.Data, 1e-6)

			src, _ := f.Info("input.src")
			tgtIn, _ := f.Info("input.tgt_in")
			srcB := Batch{IDs: f.Ints("input.src"), Pad: f.Bools("input.src_pad"), B: src.Shape[0], T: src.Shape[1]}
			tgtB := Batch{IDs: f.Ints("input.tgt_in"), Pad: f.Bools("input.tgt_pad"), B: tgtIn.Shape[0], T: tgtIn.Shape[1]}
			tp := autograd.NewTape(nil)
			logits, err := m.Forward(tp, srcB, tgtB)
			if err != nil {
				t.Fatal(err)
			}
			d := golden.CheckAbs(t, "logits", logits.Value.Data, f.Tensor("output.logits").Data, 1e-4)
			loss := tp.CrossEntropy(logits, f.Ints("input.tgt_out"), tc.PadID, tc.Smoothing)
			dl := golden.CheckAbs(t, "loss", loss.Value.Data, f.Tensor("output.loss").Data, 1e-4)
			t.Logf("logits: max abs error %.2e; loss %.6f, error %.2e", d, loss.Item(), dl)
			tp.Backward(loss)
			worst := 0.0
			for _, p := range ps {
				worst = max(worst, golden.CheckRel(t, "grad "+p.Name, p.Grad.Data, f.Tensor("grad."+p.Name).Data, 1e-3))
			}
			t.Logf("%d parameter gradients: worst relative error %.2e", len(ps), worst)
		})
	}
}

func TestSaveLoadRoundTripAndErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SrcVocab, cfg.TgtVocab, cfg.DModel, cfg.Heads, cfg.DFF, cfg.EncoderLayers, cfg.DecoderLayers = 11, 11, 16, 2, 32, 1, 1
	m, err := New(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Generator.Weight != back.TgtEmbed.Weight || back.TgtEmbed.Weight != back.SrcEmbed.Weight {
		t.Error("Load: tied embeddings are no longer shared")
	}
	want, got := m.Params(), back.Params()
	for i := range want {
		golden.CheckAbs(t, want[i].Name, got[i].Value.Data, want[i].Value.Data, 0)
	}

	// A checkpoint with an extra tensor, a missing one, or a wrong shape fails
	// with an error naming the tensor.
	ts := m.Tensors()
	write := func(ts []safetensors.Tensor) *safetensors.File {
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := safetensors.WriteFile(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	extra := append(append([]safetensors.Tensor(nil), ts...), safetensors.F32("encoder.layers.9.norm1.weight", []int{16}, make([]float32, 16)))
	bad := append([]safetensors.Tensor(nil), ts...)
	bad[1] = safetensors.F32(bad[1].Name, []int{2}, make([]float32, 2))
	for _, c := range []struct {
		name string
		ts   []safetensors.Tensor
		want string
	}{
		{"extra", extra, `unexpected tensor "encoder.layers.9.norm1.weight"`},
		{"missing", ts[1:], `missing tensor "src_embed.weight"`},
		{"shape", bad, `tensor "` + ts[1].Name + `": shape [2] does not match`},
	} {
		err := back.LoadWeights(write(c.ts), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadWeights(%s) = %v; want an error containing %q", c.name, err, c.want)
		}
	}
}
