package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/model/marian"
	"github.com/attn-go/attn/nn"
)

// marianFolder writes a small random-weight Marian folder with the
// SentencePiece tokenizer of model/marian's tests.
func marianFolder(t *testing.T, pad int) string { return marianFolderOf(t, pad, 16) }

// marianFolderOf is marianFolder with the model dModel wide.
func marianFolderOf(t *testing.T, pad, dModel int) string {
	t.Helper()
	dir := t.TempDir()
	cfg := marian.DefaultConfig()
	cfg.VocabSize, cfg.DecoderVocabSize, cfg.DModel, cfg.EncoderLayers, cfg.DecoderLayers = 719, 719, dModel, 1, 1
	cfg.EncoderHeads, cfg.DecoderHeads, cfg.EncoderFFN, cfg.DecoderFFN, cfg.MaxPositions = 2, 2, 32, 32, 64
	cfg.PadTokenID, cfg.DecoderStartTokenID, cfg.EOSTokenID, cfg.BadWordsIDs = pad, pad, 0, [][]int{{pad}}
	m, err := marian.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	// At the usual 0.02 scale a tiny model's output hardly depends on its
	// source; larger weights make a batching or padding error show.
	for _, p := range nn.Unique(m.Params()) {
		if len(p.Value.Shape) == 2 {
			for i := range p.Value.Data {
				p.Value.Data[i] *= 10
			}
		}
	}
	if err := marian.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"source.spm", "target.spm", "vocab.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "model", "marian", "testdata", "tokenizer", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTranslateMarian runs attn translate on a Marian folder: greedy output
// must be the model's own greedy decoding of the tokenizer's ids, decoded by
// the tokenizer.
func TestTranslateMarian(t *testing.T) {
	dir := marianFolder(t, 718)
	lines := []string{"Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee."}
	in := filepath.Join(t.TempDir(), "de.txt")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out, code := attn(t, "translate", "--model", dir, "--beam", "1", in)
	if code != 0 {
		t.Fatalf("attn translate: exit %d\n%s", code, out)
	}
	m, err := marian.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := marian.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range lines {
		ids, err := tok.Encode(line)
		if err != nil {
			t.Fatal(err)
		}
		hyp, err := m.Greedy(ids, nil, 1, len(ids), len(ids)+50)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tok.Decode(hyp[0]))
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attn translate:\n%q\nwant (greedy, one sentence at a time):\n%q", got, want)
	}
	if len(want[0]) == 0 || want[0] == want[1] {
		t.Errorf("translations %q: want two different non-empty ones", want)
	}
	t.Logf("random-weight translations: %q", want)
	if out, code := attn(t, "translate", "--model", dir, "--beam", "3", in); code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("attn translate --beam 3: exit %d\n%s", code, out)
	}
	// A vocabulary whose <pad> is not the config's pad token is refused.
	bad := marianFolder(t, 717)
	if out, code := attn(t, "translate", "--model", bad, in); code == 0 || !strings.Contains(out, "pad_token_id") {
		t.Errorf("mismatched pad: exit %d\n%s", code, out)
	}
}

// TestTranslateQuantized: attn translate --quantize q8 writes the
// translations of the Marian model quantized to 8 bits, which are those of
// its float32 twin with the dequantized weights (computed here through
// nn.QuantizeQ8 and nn.Dequantize); attn serve takes the flag too, and its
// start line says so.
func TestTranslateQuantized(t *testing.T) {
	dir := marianFolderOf(t, 718, 32)
	lines := []string{"Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee."}
	in := filepath.Join(t.TempDir(), "de.txt")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	mt, err := loadMarian(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := mt.m.QuantizeQ8(); n < 8 {
		t.Fatalf("%d matrices quantized", n)
	}
	nn.Dequantize(mt.m) // the float32 model of the dequantized weights
	var want strings.Builder
	if err := mt.translate(lines, 4, 0.6, &want); err != nil {
		t.Fatal(err)
	}
	out, code := attn(t, "translate", "--model", dir, "--quantize", "q8", in)
	if code != 0 || out != want.String() {
		t.Errorf("attn translate --quantize q8: exit %d, %q; want the dequantized model's %q", code, out, want.String())
	}
	s, err := newServerQuantized(dir, "q8", 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if s.marian.m.Model.Shared.Weight.Value.Data != nil {
		t.Error("attn serve --quantize q8 kept the Marian model in float32")
	}
	if w := s.weights(); w != "q8" { // the start line names them, as a Llama's
		t.Errorf("attn serve --quantize q8: weights %q; want q8", w)
	}
}
