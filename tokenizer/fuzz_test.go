package tokenizer

import (
	"math/rand"
	"sync"
	"testing"
	"unicode/utf8"
)

var (
	fuzzOnce sync.Once
	fuzzToks map[string]*Pipeline
)

func fuzzTokenizers(t testing.TB) map[string]*Pipeline {
	fuzzOnce.Do(func() {
		fuzzToks = map[string]*Pipeline{}
		for name, file := range map[string]string{"gpt2": "gpt2.json", "bert": "bert-base-uncased.json", "t5": "t5.json"} {
			tok, err := Parse(readTestdata(t, file))
			if err != nil {
				t.Fatal(err)
			}
			fuzzToks[name] = tok
		}
	})
	return fuzzToks
}

// FuzzEncode checks that encoding never fails or panics on any bytes, that
// offsets stay inside the text, and that byte-level BPE round-trips valid
// UTF-8 exactly.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello, world!", "é\u0301 😀‍👩 ﬁ", "<|endoftext|>[CLS]</s>", "\xff\xfe a \xf0\x9f", "   \t\n", "'s'S'll", "\u0000\u00ad\u200d"} {
		f.Add(s, "pair "+s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for name, tok := range fuzzTokenizers(t) {
			e, err := tok.EncodePair(a, b)
			if err != nil {
				t.Fatalf("%s: EncodePair(%q, %q): %v", name, a, b, err)
			}
			la, lb := len(lossyUTF8([]byte(a))), len(lossyUTF8([]byte(b)))
			for i, o := range e.Offsets {
				n := la
				if e.SequenceIDs[i] == 1 {
					n = lb
				}
				if o[0] < 0 || o[0] > o[1] || o[1] > n {
					t.Fatalf("%s: token %d %q has offsets %v outside a text of %d bytes", name, i, e.Tokens[i], o, n)
				}
			}
			if _, err := tok.DecodeWith(e.IDs, true); err != nil {
				t.Fatalf("%s: decode: %v", name, err)
			}
		}
		if !utf8.ValidString(a) {
			return
		}
		gpt2 := fuzzTokenizers(t)["gpt2"]
		e, err := gpt2.EncodeWith(a, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gpt2.Decode(e.IDs)
		if err != nil {
			t.Fatal(err)
		}
		if got != a {
			t.Fatalf("gpt2 decode(encode(%q)) = %q", a, got)
		}
	})
}

// FuzzParse checks that malformed tokenizer.json files give errors, not panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"model":null}`, `{"model":{"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","b"]]}}`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1]]},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","add_prefix_space":true}}`,
		`{"model":{"vocab":{"[UNK]":0,"a":1,"##b":2},"max_input_chars_per_word":3},"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"}}`,
		`{"model":{"type":"WordLevel","vocab":{"a":0},"unk_token":"a"},"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAAAAA=="}}`,
		`{"model":{"type":"WordLevel","vocab":{"a":0}},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"x","type_id":0}}],"pair":[],"special_tokens":{}}}`,
		`{"model":{"type":"WordLevel","vocab":{"a":0}},"added_tokens":[{"id":5,"content":"a","lstrip":true}],"truncation":{"max_length":-1}}`,
	} {
		f.Add([]byte(s), "a ab b\u00e9")
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tok, err := Parse(data)
		if err != nil {
			return
		}
		e, err := tok.EncodePair(text, text)
		if err != nil {
			return
		}
		_, _ = tok.Decode(e.IDs)
	})
}

// TestRandomInputs is FuzzEncode's check on a few thousand seeded random
// mutations of its seeds, so that every test run covers more than the seeds.
func TestRandomInputs(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	toks := fuzzTokenizers(t)
	seeds := []string{"", " ", "Hello, world!", "é\u0301 😀‍👩 ﬁ", "<|endoftext|>[CLS]</s>", "\xff\xfe a \xf0\x9f", "   \t\n", "'s'S'll", "\u0000\u00ad\u200d", "▁ ＡＢ ｶﾞ 각"}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		b := []byte(seeds[r.Intn(len(seeds))] + seeds[r.Intn(len(seeds))])
		for k := r.Intn(12); k > 0; k-- {
			var ins []byte
			switch r.Intn(3) {
			case 0:
				ins = []byte{byte(r.Intn(256))}
			case 1:
				ins = []byte(seeds[r.Intn(len(seeds))])
			default:
				ins = utf8.AppendRune(nil, rune(r.Intn(0x30000)))
			}
			pos := r.Intn(len(b) + 1)
			b = append(b[:pos], append(ins, b[pos:]...)...)
		}
		a := string(b)
		for name, tok := range toks {
			e, err := tok.EncodePair(a, a)
			if err != nil {
				t.Fatalf("%s: EncodePair(%q): %v", name, a, err)
			}
			if _, err := tok.DecodeWith(e.IDs, true); err != nil {
				t.Fatalf("%s: decode: %v", name, err)
			}
		}
		if utf8.ValidString(a) {
			e, _ := toks["gpt2"].EncodeWith(a, nil, false)
			if got, _ := toks["gpt2"].Decode(e.IDs); got != a {
				t.Fatalf("gpt2 decode(encode(%q)) = %q", a, got)
			}
		}
	}
}
