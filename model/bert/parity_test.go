package bert

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/tensor"
)

// batch is the reference inputs (tools/golden/torch_bert.py).
type batch struct {
	ids, types []int
	pad        []bool
	b, t       int
}

func reference(t *testing.T) (*golden.File, batch) {
	t.Helper()
	return referenceAt(t, "hf/bert-tiny/reference.safetensors")
}

// referenceAt opens a reference file of tools/golden's BERT-family scripts
// and reads its inputs (token types where it has them).
func referenceAt(t *testing.T, rel string) (*golden.File, batch) {
	t.Helper()
	f := golden.Open(t, rel)
	in := batch{ids: f.Ints("input.ids")}
	if _, ok := f.Info("input.token_type_ids"); ok {
		in.types = f.Ints("input.token_type_ids")
	}
	info, _ := f.Info("input.ids")
	in.b, in.t = info.Shape[0], info.Shape[1]
	for _, m := range f.Ints("input.attention_mask") {
		in.pad = append(in.pad, m == 0)
	}
	return f, in
}

// checkEmbeds compares hidden's mean embedding (normalised) and its first
// token's with the references prefix+"embed_mean" and prefix+"embed_cls".
func checkEmbeds(t *testing.T, f *golden.File, prefix string, hidden *tensor.Tensor, pad []bool) {
	t.Helper()
	for _, e := range []struct {
		pooling   Pooling
		normalize bool
		ref       string
	}{{PoolMean, true, "embed_mean"}, {PoolCLS, false, "embed_cls"}} {
		vs, err := Embed(hidden, pad, e.pooling, e.normalize)
		if err != nil {
			t.Fatal(err)
		}
		d := golden.CheckAbs(t, string(e.pooling)+" embedding", slices.Concat(vs...), f.Tensor(prefix+e.ref).Data, 1e-4)
		t.Logf("max abs error: %s embedding (normalize %v) %.2e", e.pooling, e.normalize, d)
	}
}

// checkMLM compares a masked-language model's hidden states (encoded with
// the token types types, which may be nil; no pooled output), MLM logits and
// embeddings with f's "mlm." tensors, and returns the hidden states.
func checkMLM(t *testing.T, name string, m *Model, f *golden.File, in batch, types []int) *tensor.Tensor {
	t.Helper()
	hidden, pooled, err := m.Encode(in.ids, types, in.pad, in.b, in.t)
	if err != nil || pooled != nil {
		t.Fatalf("Encode: pooled %v, %v", pooled, err)
	}
	dh := golden.CheckAbs(t, "hidden", hidden.Data, f.Tensor("mlm.hidden").Data, 1e-4)
	logits, err := m.MLMLogits(in.ids, nil, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	dl := golden.CheckAbs(t, "logits", logits.Data, f.Tensor("mlm.logits").Data, 1e-4)
	t.Logf("%s max abs error: hidden %.2e, logits %.2e", name, dh, dl)
	checkEmbeds(t, f, "mlm.", hidden, in.pad)
	return hidden
}

func load(t *testing.T, name string) *Model {
	t.Helper()
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMatchesPyTorch compares the last hidden state, the pooled output, the
// MLM logits and both embeddings of each checkpoint with BERT in PyTorch
// (float64, from the same stored, possibly rounded, weights).
func TestMatchesPyTorch(t *testing.T) {
	f, in := reference(t)
	for _, tc := range []struct {
		dir, ref string
		head     bool
	}{
		{"bert-tiny", "f32", true},         // F32, gelu, tied tensors left out
		{"bert-tiny-sharded", "f32", true}, // two shards, tied tensors stored
		{"bert-tiny-f16", "f16", true},     // F16, relu, tied tensors and NSP head stored
		{"bert-tiny-bf16", "bf16", false},  // BF16, gelu_new, BertModel names
	} {
		t.Run(tc.dir, func(t *testing.T) {
			m := load(t, tc.dir)
			if (m.Head != nil) != tc.head || m.Pooler == nil {
				t.Fatalf("head %v, pooler %v; want head %v and a pooler", m.Head != nil, m.Pooler != nil, tc.head)
			}
			hidden, pooled, err := m.Encode(in.ids, in.types, in.pad, in.b, in.t)
			if err != nil {
				t.Fatal(err)
			}
			dh := golden.CheckAbs(t, "hidden", hidden.Data, f.Tensor(tc.ref+".hidden").Data, 1e-4)
			dp := golden.CheckAbs(t, "pooled", pooled.Data, f.Tensor(tc.ref+".pooled").Data, 1e-4)
			t.Logf("max abs error: hidden %.2e, pooled %.2e", dh, dp)
			if tc.head {
				logits, err := m.MLMLogits(in.ids, in.types, in.pad, in.b, in.t)
				if err != nil {
					t.Fatal(err)
				}
				dl := golden.CheckAbs(t, "logits", logits.Data, f.Tensor(tc.ref+".logits").Data, 1e-4)
				t.Logf("max abs error: logits %.2e", dl)
			} else if _, err := m.MLMLogits(in.ids, in.types, in.pad, in.b, in.t); err == nil || !strings.Contains(err.Error(), "no masked-LM head") {
				t.Errorf("MLMLogits without a head: err = %v; want no masked-LM head", err)
			}
			checkEmbeds(t, f, tc.ref+".", hidden, in.pad)
		})
	}
}

// TestShardedEqualsSingle requires the sharded checkpoint to give exactly
// the single file's results.
func TestShardedEqualsSingle(t *testing.T) {
	_, in := reference(t)
	one, two := load(t, "bert-tiny"), load(t, "bert-tiny-sharded")
	h1, p1, err1 := one.Encode(in.ids, in.types, in.pad, in.b, in.t)
	h2, p2, err2 := two.Encode(in.ids, in.types, in.pad, in.b, in.t)
	l1, err3 := one.MLMLogits(in.ids, in.types, in.pad, in.b, in.t)
	l2, err4 := two.MLMLogits(in.ids, in.types, in.pad, in.b, in.t)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(h1.Data, h2.Data) || !slices.Equal(p1.Data, p2.Data) || !slices.Equal(l1.Data, l2.Data) {
		t.Error("sharded checkpoint's outputs differ from the single file's")
	}
}

// TestCorruptCheckpoints requires each broken folder to fail with an error
// that names the problem.
func TestCorruptCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"bert-tiny-truncated", []string{"safetensors:", "model.safetensors", "beyond the", "data buffer"}},
		{"bert-tiny-wrong-shape", []string{`hf: tensor "bert.encoder.layer.1.intermediate.dense.weight" in model.safetensors: shape [36 32] does not match config [37 32]`}},
		{"bert-tiny-missing", []string{`hf: missing tensor "encoder.layer.1.output.LayerNorm.bias" in model.safetensors`}},
		{"no-such-folder", []string{"config.json", "no such file"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", tc.dir))
			if err == nil {
				t.Fatalf("Load = %v, nil; want an error", m)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestPaddingInvariance encodes the padded reference sequence alone,
// unpadded: its hidden states must match its rows in the padded batch.
func TestPaddingInvariance(t *testing.T) {
	_, in := reference(t)
	m := load(t, "bert-tiny")
	hidden, _, err := m.Encode(in.ids, in.types, in.pad, in.b, in.t)
	if err != nil {
		t.Fatal(err)
	}
	row := in.t // the second sequence
	n := 0
	for !in.pad[row+n] {
		n++
	}
	alone, _, err := m.Encode(in.ids[row:row+n], in.types[row:row+n], nil, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg.Hidden
	d := golden.CheckAbs(t, "unpadded hidden", alone.Data, hidden.Data[row*c:(row+n)*c], 1e-5)
	t.Logf("%d tokens alone vs padded to %d: max abs difference %.2e", n, in.t, d)
}
