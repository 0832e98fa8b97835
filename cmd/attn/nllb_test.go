package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
)

// nllbFolder copies testdata/hf/m2m100-tiny (tools/golden/torch_m2m100.py)
// and gives it an NLLB-like tokenizer.json: words w3 … w59 are ids 3 … 59,
// and the language tokens fra_Latn, eng_Latn and deu_Latn ids 60, 61, 62,
// special as NLLB's are.
func nllbFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "hf", "m2m100-tiny")
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	vocab := map[string]int{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "fra_Latn": 60, "eng_Latn": 61, "deu_Latn": 62, "w63": 63}
	for i := 4; i < 60; i++ {
		vocab[fmt.Sprintf("w%d", i)] = i
	}
	var added []map[string]any
	for _, tok := range []string{"<s>", "<pad>", "</s>", "<unk>", "fra_Latn", "eng_Latn", "deu_Latn"} {
		added = append(added, map[string]any{"id": vocab[tok], "content": tok, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "WhitespaceSplit"},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "eng_Latn", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
			"pair":           []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"eng_Latn": map[string]any{"id": "eng_Latn", "ids": []int{61}, "tokens": []string{"eng_Latn"}}, "</s>": map[string]any{"id": "</s>", "ids": []int{2}, "tokens": []string{"</s>"}}},
		},
		"decoder": nil,
		"model":   map[string]any{"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
	}
	b, _ := json.Marshal(tok)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir
}

// TestTranslateNLLB: attn translate with an M2M100 (NLLB) folder encodes
// each line as its source language's token, the text and </s>, forces the
// target language first, and writes PyTorch's greedy tokens
// (tools/golden/torch_m2m100.py) as text, without the special tokens;
// languages are named by their tokens, and missing or unknown ones are
// refused.
func TestTranslateNLLB(t *testing.T) {
	dir := nllbFolder(t)
	f := golden.Open(t, filepath.Join("hf", "m2m100-tiny", "golden.safetensors"))
	src, want := f.Ints("input.src"), f.Ints("output.greedy")
	s := len(src) / 2
	for i, lang := range []string{"eng_Latn", "deu_Latn"} {
		var words []string
		for _, id := range src[i*s+1 : (i+1)*s] {
			if id == 2 {
				break
			}
			words = append(words, fmt.Sprintf("w%d", id))
		}
		in := filepath.Join(t.TempDir(), "in.txt")
		os.WriteFile(in, []byte(strings.Join(words, " ")+"\n"), 0o644)
		out, code := attn(t, "translate", "--model", dir, "--beam", "1", "--src-lang", lang, "--tgt-lang", "fra_Latn", in)
		got := strings.Fields(out)
		var w []string
		for _, id := range want[i*8+1 : (i+1)*8] {
			w = append(w, fmt.Sprintf("w%d", id))
		}
		if code != 0 || len(got) < len(w) || strings.Join(got[:len(w)], " ") != strings.Join(w, " ") {
			t.Errorf("%s: exit %d, %q; want it to start with %q", lang, code, out, strings.Join(w, " "))
		}
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("w5 w6\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tgt-lang", "fra_Latn"}, "--src-lang and --tgt-lang name"},
		{[]string{"--src-lang", "eng_Latn", "--tgt-lang", "xx_Latn"}, `--tgt-lang "xx_Latn" is not a language token`},
		{[]string{"--src-lang", "eng_Latn", "--tgt-lang", "</s>"}, `--tgt-lang "</s>" is not a language token`},
		{[]string{"--src-lang", "w5", "--tgt-lang", "fra_Latn"}, `--src-lang "w5" is not a language token`},
	} {
		out, code := attn(t, append(append([]string{"translate", "--model", dir}, tc.args...), in)...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error containing %q", tc.args, code, out, tc.want)
		}
	}
	if out, code := attn(t, "translate", "--model", marianFolder(t, 718), "--tgt-lang", "fra_Latn", in); code == 0 || !strings.Contains(out, "are for M2M100 (NLLB) models") {
		t.Errorf("--tgt-lang with a Marian folder: exit %d, %q", code, out)
	}
}

// TestServeNLLB: attn serve with an M2M100 (NLLB) folder translates each
// request between the languages it names (src_lang, tgt_lang) as attn
// translate does (the server batches requests by target language, whose
// token is forced first); a request without languages, or with one the
// tokenizer lacks, is a 400 that says so.
func TestServeNLLB(t *testing.T) {
	dir := nllbFolder(t)
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("w45 w29 w47\n"), 0o644)
	want := map[string]string{}
	for _, tgt := range []string{"fra_Latn", "deu_Latn"} {
		out, code := attn(t, "translate", "--model", dir, "--src-lang", "eng_Latn", "--tgt-lang", tgt, in)
		if code != 0 {
			t.Fatalf("attn translate: exit %d\n%s", code, out)
		}
		want[tgt] = strings.TrimSpace(out)
	}
	if want["fra_Latn"] == want["deu_Latn"] {
		t.Fatalf("both targets give %q: the test cannot tell them apart", want["fra_Latn"])
	}
	ts := serveDir(t, dir)
	post := func(body map[string]any) (int, []string, string) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(ts.URL+"/v1/translate", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var v struct {
			Translations []string
			Error        string
		}
		json.Unmarshal(raw, &v)
		return resp.StatusCode, v.Translations, string(raw) + v.Error
	}
	for tgt, w := range want {
		code, got, raw := post(map[string]any{"input": []string{"w45 w29 w47"}, "src_lang": "eng_Latn", "tgt_lang": tgt, "beam": 4, "alpha": 0.6})
		if code != 200 || len(got) != 1 || got[0] != w {
			t.Errorf("%s: status %d, %s; want %q", tgt, code, raw, w)
		}
	}
	// The batches' translateIDs, to each target.
	s, err := newServer(dir, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	src, fra, _ := s.nllb.langs("eng_Latn", "fra_Latn", [2]string{"", ""})
	_, deu, _ := s.nllb.langs("eng_Latn", "deu_Latn", [2]string{"", ""})
	srcs, _ := s.nllb.encode([]string{"w45 w29 w47"}, src)
	for tgt, id := range map[string]int{"fra_Latn": fra, "deu_Latn": deu} {
		out, err := s.nllb.translateIDs(srcs, id, 4, 0.6)
		if err != nil || out[0] != want[tgt] {
			t.Errorf("translateIDs to %s: %v, %v", tgt, out, err)
		}
	}
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"input": []string{"w5"}, "beam": 1, "alpha": 0.6}, `"src_lang" and "tgt_lang" name`},
		{map[string]any{"input": []string{"w5"}, "src_lang": "eng_Latn", "tgt_lang": "xx", "beam": 1, "alpha": 0.6}, `"tgt_lang" "xx" is not a language token`},
	} {
		if code, _, raw := post(tc.body); code != 400 || !strings.Contains(raw, tc.want) {
			t.Errorf("%v: status %d, %s; want a 400 containing %q", tc.body, code, raw, tc.want)
		}
	}
}

// TestNLLBQuantized: attn translate and attn serve run an NLLB folder with
// --quantize q8, the server naming its weights so; a Marian server refuses
// NLLB's language fields.
func TestNLLBQuantized(t *testing.T) {
	dir := nllbFolder(t)
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("w45 w29 w47\n"), 0o644)
	if out, code := attn(t, "translate", "--model", dir, "--quantize", "q8", "--src-lang", "eng_Latn", "--tgt-lang", "fra_Latn", in); code != 0 || !strings.HasPrefix(out, "w") {
		t.Errorf("attn translate --quantize q8: exit %d, %q", code, out)
	}
	s, err := newServerQuantized(dir, "q8", 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.nllb == nil || s.weights() != "q8" {
		t.Errorf("attn serve --quantize q8 of an NLLB folder: weights %q; want q8", s.weights())
	}
	s.close()
	ts := serveDir(t, marianFolder(t, 718))
	b, _ := json.Marshal(map[string]any{"input": []string{"a"}, "tgt_lang": "fra_Latn", "beam": 1, "alpha": 0.6})
	resp, err := http.Post(ts.URL+"/v1/translate", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "are for M2M100 (NLLB) models") {
		t.Errorf("tgt_lang to a Marian server: %d %s", resp.StatusCode, raw)
	}
}
