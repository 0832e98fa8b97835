package marian

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// TestM2M100MatchesPyTorch: an M2M100 (NLLB) folder in BF16
// (tools/golden/torch_m2m100.py: pre-LN layers, final LayerNorms, fairseq's
// positions counted past the padding id, no final_logits_bias) gives
// PyTorch's position table, encoder output (padding rows included: their
// positions are the zero row) and logits; greedy decoding through the
// cache, its first token forced to the target language, gives PyTorch's
// tokens and each step the logits of Forward on the whole prefix.
func TestM2M100MatchesPyTorch(t *testing.T) {
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", "m2m100-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if m.FinalLogitsBias != nil || m.Model.Encoder.LayerNorm == nil || !m.Cfg.ScaleEmbedding || m.Cfg.DecoderStartTokenID != 2 {
		t.Fatalf("model: %+v", m.Cfg)
	}
	f := golden.Open(t, filepath.Join("hf", "m2m100-tiny", "golden.safetensors"))
	pe := f.Tensor("output.positions")
	dp := golden.CheckAbs(t, "positions", m.positions.Data[:len(pe.Data)], pe.Data, 1e-6)
	src, pad, tgt := f.Ints("input.src"), f.Bools("input.src_pad"), f.Ints("input.tgt")
	b := 2
	s, tt, v := len(src)/b, len(tgt)/b, m.Cfg.VocabSize
	mem, err := m.Encode(nil, src, pad, b, s)
	if err != nil {
		t.Fatal(err)
	}
	de := golden.CheckAbs(t, "encoder output", mem.Value.Data, f.Tensor("output.encoder").Data, 1e-4)
	logits, err := m.Forward(nil, src, pad, tgt, b, s, tt)
	if err != nil {
		t.Fatal(err)
	}
	dl := golden.CheckAbs(t, "logits", logits.Value.Data, f.Tensor("output.logits").Data, 1e-4)
	t.Logf("max abs error: positions %.2e, encoder %.2e, logits %.2e", dp, de, dl)

	want := f.Ints("output.greedy")
	d, err := m.NewDecoder(src, pad, b, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.Forced = want[0]
	seqs := [][]int{{m.Cfg.DecoderStartTokenID}, {m.Cfg.DecoderStartTokenID}}
	for step := range len(want) / b {
		got, err := d.Step([]int{seqs[0][step], seqs[1][step]})
		if err != nil {
			t.Fatal(err)
		}
		full, err := m.Forward(nil, src, pad, slices.Concat(seqs...), b, s, step+1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			row := got.Data[i*v : (i+1)*v]
			ref := full.Value.Data[(i*(step+1)+step)*v : (i*(step+1)+step+1)*v]
			for j, x := range row {
				if step == 0 && j != d.Forced {
					if !math.IsInf(float64(x), -1) {
						t.Fatalf("step 0: token %d not masked (%v) with Forced %d", j, x, d.Forced)
					}
					continue
				}
				if math.Abs(float64(x-ref[j])) > 1e-4 {
					t.Fatalf("step %d, sequence %d, token %d: cached %v, whole prefix %v", step, i, j, x, ref[j])
				}
			}
			seqs[i] = append(seqs[i], tensor.Argmax(row))
		}
	}
	if got := slices.Concat(seqs[0][1:], seqs[1][1:]); !slices.Equal(got, want) {
		t.Errorf("greedy %v; PyTorch %v", got, want)
	}
}

// TestM2M100Config: a config.json of M2M100Config's keys takes its
// defaults where a key is missing (decoder_start_token_id 2, not the pad
// id as Marian's), and its one vocabulary whatever the keys say.
func TestM2M100Config(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "m2m_100", "d_model": 32, "share_encoder_decoder_embeddings": false, "decoder_vocab_size": 7}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.DecoderStartTokenID != 2 || c.PadTokenID != 1 || c.EOSTokenID != 2 || c.Activation != "relu" || !c.ScaleEmbedding || !c.ShareEmbeddings || c.DecoderVocabSize != c.VocabSize || c.Validate() != nil {
		t.Errorf("defaults: %+v, %v", c, c.Validate())
	}
}

// TestM2M100Save: a saved M2M100 folder names its class and reloads with
// the same logits.
func TestM2M100Save(t *testing.T) {
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", "m2m100-tiny"))
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
	src, tgt := []int{61, 5, 9, 2}, []int{2, 60, 7}
	a, _ := m.Forward(nil, src, nil, tgt, 1, 4, 3)
	c, err := back.Forward(nil, src, nil, tgt, 1, 4, 3)
	if err != nil || !slices.Equal(a.Value.Data, c.Value.Data) || !back.Cfg.m2m100() {
		t.Errorf("reloaded: %v, %+v", err, back.Cfg)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(raw), "M2M100ForConditionalGeneration") {
		t.Errorf("config.json: %s", raw)
	}
}
