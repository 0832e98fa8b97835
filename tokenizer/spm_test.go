package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// spmGoldenLine is one line of testdata/spm/golden-*.jsonl.gz, written by
// tools/spmgolden/spm_golden.py with SentencePiece 0.1.97.
type spmGoldenLine struct {
	Text         *string  `json:"text"`
	IDs          []int    `json:"ids"`
	Pieces       []string `json:"pieces"`
	Offsets      [][2]int `json:"offsets"` // in code points
	DecodeIDs    []int    `json:"decode_ids"`
	DecodePieces []string `json:"decode_pieces"`
	Decoded      string   `json:"decoded"`
}

// spmModels are the models in testdata/spm, by golden name.
var spmModels = map[string]string{
	"unigram-nmt":      "spm/unigram-nmt.model.gz",
	"bpe-rules":        "spm/bpe-rules.model",
	"unigram-bytes":    "spm/unigram-bytes.model",
	"bpe-suffix":       "spm/bpe-suffix.model",
	"bpe-unused":       "spm/bpe-unused.model",
	"unigram-noescape": "spm/unigram-noescape.model",
}

func loadSPMTest(t testing.TB, name string) *Pipeline {
	t.Helper()
	tok, err := ParseSentencePiece(readTestdata(t, spmModels[name]))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tok
}

// byteToCharOffset converts a byte offset into s to code points.
func byteToCharOffset(s string, b int) int { return utf8.RuneCountInString(s[:b]) }

// TestSentencePieceGolden checks encoding (ids, pieces, offsets) and
// decoding (of the encoded ids, of random ids and of random pieces) against
// SentencePiece on every golden line.
func TestSentencePieceGolden(t *testing.T) {
	for name := range spmModels {
		t.Run(name, func(t *testing.T) {
			tok := loadSPMTest(t, name)
			var encoded, decodedIDs, decodedPieces int
			sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, "spm/golden-"+name+".jsonl.gz")))
			sc.Buffer(nil, 1<<20)
			for line := 1; sc.Scan(); line++ {
				var g spmGoldenLine
				if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
					t.Fatalf("line %d: %v", line, err)
				}
				switch {
				case g.Text != nil:
					encoded++
					checkSPMEncode(t, tok, line, *g.Text, &g)
				case g.DecodeIDs != nil:
					decodedIDs++
					got, err := tok.Decode(g.DecodeIDs)
					if err != nil || got != g.Decoded {
						t.Errorf("line %d: Decode(%v) = %q, %v; SentencePiece %q", line, g.DecodeIDs, got, err, g.Decoded)
					}
				case g.DecodePieces != nil:
					decodedPieces++
					if got := tok.DecodeTokens(g.DecodePieces); got != g.Decoded {
						t.Errorf("line %d: DecodeTokens(%q) = %q; SentencePiece %q", line, g.DecodePieces, got, g.Decoded)
					}
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if encoded < 600 || decodedIDs < 100 || decodedPieces < 100 {
				t.Fatalf("golden has %d texts, %d id and %d piece sequences: too few", encoded, decodedIDs, decodedPieces)
			}
			t.Logf("%d texts encoded, %d id and %d piece sequences decoded", encoded, decodedIDs, decodedPieces)
		})
	}
}

func checkSPMEncode(t *testing.T, tok *Pipeline, line int, text string, g *spmGoldenLine) {
	t.Helper()
	e, err := tok.Encode(text)
	if err != nil {
		t.Errorf("line %d: Encode(%q): %v", line, text, err)
		return
	}
	if !slices.Equal(e.IDs, g.IDs) || !slices.Equal(e.Tokens, g.Pieces) {
		t.Errorf("line %d: Encode(%q)\n got ids %v pieces %q\nwant ids %v pieces %q", line, text, e.IDs, e.Tokens, g.IDs, g.Pieces)
		return
	}
	for i, o := range e.Offsets {
		got := [2]int{byteToCharOffset(text, o[0]), byteToCharOffset(text, o[1])}
		want := g.Offsets[i]
		if tok.model.(*spmModel).pieces[e.IDs[i]].typ == pieceByte {
			// All byte pieces of a character span it; SentencePiece gives the
			// span to the last one and an empty one at its start to the others.
			if got[0] != want[0] || (want[0] != want[1] && got != want) {
				t.Errorf("line %d: %q: byte piece %d %q has offsets %v, SentencePiece %v", line, text, i, e.Tokens[i], got, want)
			}
			continue
		}
		if got != want {
			t.Errorf("line %d: %q: piece %d %q has offsets %v, SentencePiece %v", line, text, i, e.Tokens[i], got, want)
		}
	}
	if got, err := tok.Decode(e.IDs); err != nil || got != g.Decoded {
		t.Errorf("line %d: Decode(Encode(%q)) = %q, %v; SentencePiece %q", line, text, got, err, g.Decoded)
	}
}

func TestLoadSentencePiece(t *testing.T) {
	tok, err := LoadSentencePiece(filepath.Join("testdata", "spm", "unigram-bytes.model"))
	if err != nil {
		t.Fatal(err)
	}
	if n := tok.VocabSize(); n != 700 {
		t.Errorf("VocabSize = %d, want 700", n)
	}
	for tokStr, want := range map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2, "<2de>": 3, "<sep>": 4, "<0x41>": 72} {
		if id, ok := tok.TokenToID(tokStr); !ok || id != want {
			t.Errorf("TokenToID(%q) = %d, %v; want %d", tokStr, id, ok, want)
		}
		if s, ok := tok.IDToToken(want); !ok || s != tokStr {
			t.Errorf("IDToToken(%d) = %q, %v; want %q", want, s, ok, tokStr)
		}
	}
	if _, ok := tok.TokenToID("no such piece"); ok {
		t.Error("TokenToID found a piece that is not in the model")
	}
	if _, err := tok.Decode([]int{700}); err == nil {
		t.Error("Decode of an id past the vocabulary did not fail")
	}
	if err := tok.Save(filepath.Join(t.TempDir(), "tokenizer.json")); err == nil || !strings.Contains(err.Error(), "SentencePiece") {
		t.Errorf("Save: %v, want an error saying a SentencePiece model cannot be saved", err)
	}
	if _, err := LoadSentencePiece(filepath.Join("testdata", "spm", "missing.model")); err == nil || !strings.Contains(err.Error(), "missing.model") {
		t.Errorf("loading a missing file: %v", err)
	}
	for _, name := range []string{"unigram-bytes.model", "bpe-suffix.model"} {
		opened, err := Open(filepath.Join("testdata", "spm", name))
		if err != nil {
			t.Fatalf("Open(%s): %v", name, err)
		}
		if _, ok := opened.model.(*spmModel); !ok {
			t.Errorf("Open(%s) gave a %T model, want SentencePiece", name, opened.model)
		}
	}
}

// spmProtoField encodes one length-delimited protobuf field.
func spmProtoField(num int, payload []byte) []byte {
	b := appendUvarint(nil, uint64(num<<3|wireBytes))
	b = appendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// spmPieceField is a ModelProto.pieces entry.
func spmPieceField(piece string, typ int) []byte {
	p := spmProtoField(1, []byte(piece))
	p = append(p, 2<<3|wireFixed32, 0, 0, 0x80, 0xbf) // score -1
	p = appendUvarint(append(p, 3<<3|wireVarint), uint64(typ))
	return spmProtoField(1, p)
}

func TestSentencePieceErrors(t *testing.T) {
	unk := spmPieceField("<unk>", 2)
	a := spmPieceField("a", 1)
	modelType := func(v int) []byte { return spmProtoField(2, appendUvarint([]byte{3 << 3}, uint64(v))) }
	byteFallback := spmProtoField(2, append(appendUvarint(nil, 35<<3|wireVarint), 1))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty model file"},
		{"no pieces", modelType(1), "no pieces"},
		{"no unknown piece", a, "no unknown piece"},
		{"two unknown pieces", cat(unk, a, spmPieceField("<u2>", 2)), "second unknown piece"},
		{"duplicate piece", cat(unk, a, a), `"a" is already defined`},
		{"empty piece", cat(unk, spmPieceField("", 1)), "pieces[1]: empty piece"},
		{"unknown piece type", cat(unk, spmPieceField("a", 9)), "unknown piece type 9"},
		{"byte piece without fallback", cat(unk, a, spmPieceField("<0x41>", 6)), "byte_fallback is false"},
		{"bad byte piece", cat(unk, a, spmPieceField("<0xg1>", 6), byteFallback), "not of the form"},
		{"missing byte pieces", cat(unk, a, spmPieceField("<0x41>", 6), byteFallback), "<0x00> is missing"},
		{"word model", cat(unk, a, modelType(3)), "WORD is not supported"},
		{"unknown model type", cat(unk, a, modelType(7)), "unknown model type 7"},
		{"only reserved pieces", cat(unk, spmPieceField("<s>", 3)), "no pieces text can match"},
		{"bad charsmap", cat(unk, a, spmProtoField(3, spmProtoField(2, []byte{1, 2}))), "precompiled_charsmap"},
		{"truncated key", cat(unk, []byte{0x80}), "truncated field key"},
		{"truncated length", cat(unk, []byte{0x0a, 0x05, 'a'}), "runs past the end"},
		{"truncated fixed32", cat(unk, spmProtoField(1, []byte{2<<3 | wireFixed32, 0})), "truncated 4-byte value"},
		{"wrong wire type", cat(unk, spmProtoField(1, []byte{1<<3 | wireVarint, 1})), "pieces[1].piece: wire type varint, want length-delimited"},
		{"field number 0", cat(unk, []byte{0x00, 0x01}), "invalid field number 0"},
		{"invalid wire type", cat(unk, []byte{0x0e}), "invalid wire type 6"},
		{"varint overflow", cat(unk, []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "overflows"},
		{"open group", cat(unk, []byte{0x0b, 0x10, 0x01}), "group 1 is not closed"},
		{"stray end-group", cat(unk, []byte{0x0c}), "end-group"},
	} {
		_, err := ParseSentencePiece(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "sentencepiece: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// A BPE model where a single character is a control piece cannot encode
	// that character.
	tok, err := ParseSentencePiece(cat(unk, a, spmPieceField("x", 3), modelType(2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("ax"); err == nil || !strings.Contains(err.Error(), `control piece "x"`) {
		t.Errorf(`Encode("ax") with the control piece "x": %v`, err)
	}
	// Unknown fields, groups and fixed64 values are skipped; a message given
	// twice is merged.
	ok := bytes.Join([][]byte{unk, a, {0x0b, 0x10, 0x01, 0x1b, 0x1c, 0x0c}, {0x39, 1, 2, 3, 4, 5, 6, 7, 8},
		spmProtoField(3, []byte{3 << 3, 0}), spmProtoField(3, []byte{4 << 3, 0}), spmProtoField(99, []byte("x"))}, nil)
	tok, err = ParseSentencePiece(ok)
	if err != nil {
		t.Fatal(err)
	}
	e, err := tok.Encode(" a  a")
	if err != nil || !reflect.DeepEqual(e.IDs, []int{0, 1, 0, 1}) {
		t.Errorf("Encode with add_dummy_prefix and remove_extra_whitespaces off: %v, %v; want [0 1 0 1]", e, err)
	}
}

// TestSentencePieceCorrupt feeds truncations and random mutations of real
// model files to ParseSentencePiece: each must give an error or a tokenizer
// that encodes and decodes without panicking.
func TestSentencePieceCorrupt(t *testing.T) {
	texts := []string{"Ein Hund läuft über die Wiese.", " ﬁ ① ｱ <sep> 😀 \t x\x01 ", ""}
	try := func(data []byte) {
		tok, err := ParseSentencePiece(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sentencepiece: ") {
				t.Fatalf("error without the sentencepiece prefix: %v", err)
			}
			return
		}
		for _, s := range texts {
			e, err := tok.Encode(s)
			if err != nil {
				continue
			}
			if _, err := tok.Decode(e.IDs); err != nil {
				t.Fatalf("decoding what was encoded: %v", err)
			}
		}
		tok.DecodeTokens([]string{"<0xE2>", "▁a", "<unk>", "<0x41>", "zz"})
	}
	r := rand.New(rand.NewSource(1))
	n := 400
	if testing.Short() {
		n = 60
	}
	for _, name := range []string{"bpe-suffix", "unigram-bytes", "bpe-rules"} {
		data := readTestdata(t, spmModels[name])
		for i := 0; i < n; i++ {
			try(data[:r.Intn(len(data))])
			m := append([]byte(nil), data...)
			for k := 1 + r.Intn(8); k > 0; k-- {
				m[r.Intn(len(m))] = byte(r.Intn(256))
			}
			try(m)
		}
	}
}

// tinySPM is a small hand-made model of the given type (1 unigram, 2 BPE)
// with every kind of piece but bytes, to seed FuzzParseSentencePiece: the
// fuzzer minimizes what it finds, which is slow from a real model's size.
func tinySPM(modelType int) []byte {
	var b []byte
	for _, p := range []struct {
		s   string
		typ int
	}{{"<unk>", 2}, {"<s>", 3}, {"</s>", 3}, {"<sep>", 4}, {"\u2581", 1}, {"a", 1}, {"b", 1}, {"\u2581a", 1}, {"ab", 1},
		{"ba", 5}, {"\u2581ab", 1}} {
		b = append(b, spmPieceField(p.s, p.typ)...)
	}
	b = append(b, spmProtoField(2, appendUvarint([]byte{3 << 3}, uint64(modelType)))...)
	return append(b, spmProtoField(3, []byte{3 << 3, 1, 4 << 3, 1, 5 << 3, 1})...)
}

// FuzzParseSentencePiece checks that no model file makes parsing, encoding
// or decoding panic.
func FuzzParseSentencePiece(f *testing.F) {
	f.Add(tinySPM(1), "ab ba  <sep>b\ta")
	f.Add(tinySPM(2), " abab<sep> ba\u2581")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tok, err := ParseSentencePiece(data)
		if err != nil {
			return
		}
		if e, err := tok.Encode(text); err == nil {
			_, _ = tok.Decode(e.IDs)
		}
	})
}

// TestSentencePieceConcurrent encodes from several goroutines at once.
func TestSentencePieceConcurrent(t *testing.T) {
	tok := loadSPMTest(t, "bpe-unused")
	texts := []string{"Ein Hund läuft.", "Zwei Männer im Freien", "a dog runs", "ｱ ① ﬁ"}
	var want [][]int
	for _, s := range texts {
		e, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, e.IDs)
	}
	got, err := tok.EncodeBatch(append(append(texts, texts...), texts...), false)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if !reflect.DeepEqual(e.IDs, want[i%len(texts)]) {
			t.Errorf("batch %d: %v, want %v", i, e.IDs, want[i%len(texts)])
		}
	}
}
