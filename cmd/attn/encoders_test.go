package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/bert"
)

// robertaFolder copies testdata/hf/<name> (a tiny RoBERTa) with a byte-level
// BPE tokenizer.json made here in RoBERTa's layout: <s> <pad> </s> <unk>
// <mask> (which swallows the space before it), one token per character,
// RobertaProcessing's <s> … </s>.
func robertaFolder(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "hf", name)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	vocab := map[string]int{}
	var added []map[string]any
	for i, s := range []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"} {
		vocab[s] = i
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": s == "<mask>", "rstrip": false, "normalized": s != "<mask>", "special": true})
	}
	for _, r := range "abcdefghijklmnopqrstuvwxyzPF.Ġ" {
		vocab[string(r)] = len(vocab)
	}
	for len(vocab) < 100 { // the model's vocabulary: words of two letters after a space
		vocab[fmt.Sprintf("Ġ%c%c", 'a'+len(vocab)%26, 'a'+len(vocab)/26)] = len(vocab)
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0}, "trim_offsets": true, "add_prefix_space": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "",
			"fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []string{}},
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir
}

// TestRoberta runs the encoder commands on RoBERTa folders: fill-mask with
// RoBERTa's <mask> (or BERT's [MASK], read as the model's), embed, and a
// RobertaForSequenceClassification through classify; a text longer than
// the positions RoBERTa leaves (max_position_embeddings less 2) is refused.
func TestRoberta(t *testing.T) {
	dir := robertaFolder(t, "roberta-tiny")
	out, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris <mask> of it.")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 || strings.Contains(out, "Ġ") {
		t.Fatalf("attn fill-mask: exit %d\n%s\n(want three decoded tokens)", code, out)
	}
	if again, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris [MASK] of it."); code != 0 || again != out {
		t.Errorf("attn fill-mask with [MASK]: exit %d\n%s\nwant what <mask> gives:\n%s", code, again, out)
	}
	if out, code := attn(t, "fill-mask", "--model", dir, "no mask here"); code == 0 || !strings.Contains(out, "the text has no <mask>") {
		t.Errorf("attn fill-mask without a mask: exit %d\n%s", code, out)
	}

	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("Paris is.\nthe cap\n"), 0o644)
	out, code = attn(t, "embed", "--model", dir, "--normalize", in)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var e struct{ Embedding []float64 }
	if code != 0 || len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &e) != nil || len(e.Embedding) != 32 {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	os.WriteFile(in, []byte(strings.Repeat("a", 21)+"\n"), 0o644) // <s> + 21 + </s>: 23 tokens, 22 positions
	if out, code := attn(t, "embed", "--model", dir, in); code == 0 || !strings.Contains(out, "line 1 has 23 tokens; the model takes at most 22") {
		t.Errorf("attn embed of a text past the positions: exit %d\n%s", code, out)
	}

	// A pair needs RoBERTa's four special tokens (<s> a </s></s> b </s>)
	// and a token of each text.
	_, tok, err := loadBERT(dir, "classify")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := encodeTexts(tok, []string{"ab\tcd"}, 5, 1); err == nil || !strings.Contains(err.Error(), "line 1: sequences of at most 5 tokens cannot hold a pair's 4 special tokens and a token of each text") {
		t.Errorf("a pair in 5 tokens: %v", err)
	}
	if ids, _, err := encodeTexts(tok, []string{"ab\tcd"}, 6, 1); err != nil || len(ids[0]) != 6 {
		t.Errorf("a pair in 6 tokens: %v, %v", ids, err)
	}

	cls := robertaFolder(t, "roberta-tiny-cls")
	in = filepath.Join(cls, "in.txt")
	os.WriteFile(in, []byte("Paris is.\nthe cap\n"), 0o644)
	out, code = attn(t, "classify", "--model", cls, "--top-k", "2", "--json", in)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"POSITIVE"`) || !strings.Contains(lines[0], `"NEGATIVE"`) {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
}

// TestRobertaFineTune fine-tunes the tiny RoBERTa as a sentence classifier
// (a new RobertaClassificationHead), classifies with the result and
// resumes it.
func TestRobertaFineTune(t *testing.T) {
	base := robertaFolder(t, "roberta-tiny")
	tmp := t.TempDir()
	var b strings.Builder
	for i := range 240 {
		if i%2 == 0 {
			b.WriteString("Paris is.\tyes\n")
		} else {
			b.WriteString("the cap.\tno\n")
		}
	}
	data := filepath.Join(tmp, "train.tsv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	dir := filepath.Join(tmp, "run")
	out, code := attn(t, "train", "--model", base, "--data", data, "--epochs", "2", "--batch", "8", "--lr", "1e-3", "--out", dir, "--workers", "1")
	if code != 0 || !strings.Contains(out, "a new classifier for 2 labels: no, yes") || !strings.Contains(out, "validation accuracy 1.0000") {
		t.Fatalf("attn train --model ROBERTA --data: exit %d\n%s", code, out)
	}
	lines := filepath.Join(tmp, "lines.txt")
	os.WriteFile(lines, []byte("Paris is.\nthe cap.\n"), 0o644)
	out, code = attn(t, "classify", "--model", dir, "--top-k", "1", "--json", lines)
	if code != 0 || strings.Index(out, `"yes"`) < 0 || strings.Index(out, `"yes"`) > strings.Index(out, `"no"`) {
		t.Errorf("attn classify with the fine-tuned RoBERTa: exit %d\n%s", code, out)
	}
	if out, code = attn(t, "train", "--resume", dir, "--steps", "60"); code != 0 || !strings.Contains(out, "step 60") {
		t.Errorf("attn train --resume: exit %d\n%s", code, out)
	}
}

// TestDistilBERT runs the encoder commands on DistilBERT folders (with the
// WordPiece vocabulary of bertFolderOf): fill-mask, embed, classify, and
// fine-tuning a new classifier.
func TestDistilBERT(t *testing.T) {
	dir := bertFolderOf(t, "distilbert-tiny")
	out, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", "Paris is the [MASK] of France.")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Fatalf("attn fill-mask: exit %d\n%s", code, out)
	}
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("Paris is the capital of France.\nthe capital\tof france\n"), 0o644)
	out, code = attn(t, "embed", "--model", dir, in)
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	cls := bertFolderOf(t, "distilbert-tiny-cls")
	out, code = attn(t, "classify", "--model", cls, "--top-k", "1", "--json", in)
	if code != 0 || strings.Count(out, `"label"`) != 2 {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
	var b strings.Builder
	for i := range 240 {
		b.WriteString([]string{"paris is the capital\tyes\n", "the capital of france .\tno\n"}[i%2])
	}
	data := filepath.Join(t.TempDir(), "train.tsv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	run := filepath.Join(t.TempDir(), "run")
	out, code = attn(t, "train", "--model", dir, "--data", data, "--epochs", "2", "--batch", "8", "--lr", "1e-3", "--out", run, "--workers", "1")
	if code != 0 || !strings.Contains(out, "a new classifier for 2 labels: no, yes") || !strings.Contains(out, "validation accuracy 1.0000") {
		t.Fatalf("attn train --model DISTILBERT --data: exit %d\n%s", code, out)
	}
}

// TestSentenceTransformersFolder embeds with a sentence-transformers folder
// (modules.json: Transformer, Pooling on the [CLS] token, Normalize;
// max_seq_length 6): attn embed and serve's /v1/embed use its recipe by
// default (texts stripped and cut to 6 tokens, not refused), and --pooling
// and --normalize, or the request's fields, override it.
func TestSentenceTransformersFolder(t *testing.T) {
	dir := bertFolder(t)
	files := map[string]string{
		"modules.json": `[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`,
		"1_Pooling/config.json":     `{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`,
		"sentence_bert_config.json": `{"max_seq_length": 6, "do_lower_case": false}`,
	}
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	texts := []string{"  Paris is the capital of France. the capital of France.  ", "the capital"}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644)

	// What sentence-transformers computes: strip, cut to 6 tokens ([CLS],
	// four tokens, [SEP]), the [CLS] token's hidden state, L2-normalised.
	m, tok, err := loadBERT(dir, "embed")
	if err != nil {
		t.Fatal(err)
	}
	var seqs [][]int
	for _, text := range texts {
		e, err := tok.Encode(strings.TrimSpace(text))
		if err != nil {
			t.Fatal(err)
		}
		ids := e.IDs
		if len(ids) > 6 {
			ids = append(ids[:5:5], ids[len(ids)-1])
		}
		seqs = append(seqs, ids)
	}
	ids, pad, b, tt := bert.Batch(seqs, m.Cfg.PadID)
	hidden, _, err := m.Encode(ids, nil, pad, b, tt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := bert.EmbedConcat(hidden, pad, []bert.Pooling{bert.PoolCLS}, true)
	if err != nil {
		t.Fatal(err)
	}
	read := func(out string) [][]float64 {
		var vs [][]float64
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e struct{ Embedding []float64 }
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			vs = append(vs, e.Embedding)
		}
		return vs
	}
	close := func(got [][]float64, want [][]float32) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			for j := range got[i] {
				if math.Abs(got[i][j]-float64(want[i][j])) > 1e-6 {
					return false
				}
			}
		}
		return true
	}
	out, code := attn(t, "embed", "--model", dir, in)
	if code != 0 || !close(read(out), want) {
		t.Fatalf("attn embed with the folder's recipe: exit %d\n%s\nwant %v", code, out, want)
	}
	// Overridden: mean pooling, not normalised (still cut to 6 tokens).
	mean, _ := bert.EmbedConcat(hidden, pad, []bert.Pooling{bert.PoolMean}, false)
	out, code = attn(t, "embed", "--model", dir, "--pooling", "mean", "--normalize=false", in)
	if code != 0 || !close(read(out), mean) {
		t.Errorf("attn embed --pooling mean --normalize=false: exit %d\n%s", code, out)
	}
	if out, code := attn(t, "embed", "--model", dir, "--pooling", "weightedmean", in); code == 0 || !strings.Contains(out, `--pooling "weightedmean": want one of [cls mean max mean_sqrt_len lasttoken]`) {
		t.Errorf("attn embed --pooling weightedmean: exit %d\n%s", code, out)
	}

	ts := serveDir(t, dir)
	body, _ := json.Marshal(map[string]any{"input": texts})
	code, v := post(t, ts.URL+"/v1/embed", string(body))
	var served [][]float64
	for _, row := range v["embeddings"].([]any) {
		var r []float64
		for _, x := range row.([]any) {
			r = append(r, x.(float64))
		}
		served = append(served, r)
	}
	if code != 200 || !close(served, want) {
		t.Errorf("/v1/embed with the folder's recipe: status %d, %v", code, v)
	}
	body, _ = json.Marshal(map[string]any{"input": texts, "pooling": "mean", "normalize": false})
	if code, v := post(t, ts.URL+"/v1/embed", string(body)); code != 200 || fmt.Sprint(v["embeddings"].([]any)[1].([]any)[0]) != fmt.Sprint(mean[1][0]) {
		t.Errorf("/v1/embed overriding the recipe: status %d, %v; want %v", code, v["embeddings"], mean)
	}
	openAIEmbeddings(t, ts.URL, texts, want, len(seqs[0])+len(seqs[1]))
}

// openAIEmbeddings checks POST /v1/embeddings, OpenAI's shape, on a server
// whose embeddings of texts are want (normalised) and cost tokens tokens.
func openAIEmbeddings(t *testing.T, url string, texts []string, want [][]float32, tokens int) {
	t.Helper()
	type reply struct {
		Object string
		Model  string
		Data   []struct {
			Object    string
			Index     int
			Embedding json.RawMessage
		}
		Usage struct{ PromptTokens, TotalTokens int } `json:"-"`
	}
	ask := func(req map[string]any) (int, reply, string) {
		t.Helper()
		b, _ := json.Marshal(req)
		resp, err := http.Post(url+"/v1/embeddings", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var r reply
		json.Unmarshal(raw, &r)
		var u struct {
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
				TotalTokens  int `json:"total_tokens"`
			}
		}
		json.Unmarshal(raw, &u)
		r.Usage.PromptTokens, r.Usage.TotalTokens = u.Usage.PromptTokens, u.Usage.TotalTokens
		return resp.StatusCode, r, string(raw)
	}
	near := func(got, want []float32) bool {
		d, _ := golden.MaxAbs(got, want)
		return len(got) == len(want) && d < 1e-6
	}
	floats := func(raw json.RawMessage) []float32 {
		var v []float32
		json.Unmarshal(raw, &v)
		return v
	}
	code, r, raw := ask(map[string]any{"input": texts, "model": "text-embedding-3-small"})
	if code != 200 || r.Object != "list" || r.Model != "text-embedding-3-small" || len(r.Data) != len(texts) || r.Usage.PromptTokens != tokens || r.Usage.TotalTokens != tokens {
		t.Fatalf("/v1/embeddings: status %d, %s; want %d embeddings of %d tokens", code, raw, len(texts), tokens)
	}
	for i, d := range r.Data {
		if d.Object != "embedding" || d.Index != i || !near(floats(d.Embedding), want[i]) {
			t.Errorf("/v1/embeddings item %d: %+v; want %v", i, d, want[i])
		}
	}
	// One text; base64 (little-endian float32s); shortened and normalised again.
	if code, r, raw := ask(map[string]any{"input": texts[1], "encoding_format": "base64", "dimensions": 3}); code != 200 || len(r.Data) != 1 {
		t.Errorf("one text, base64, 3 dimensions: status %d, %s", code, raw)
	} else {
		var s string
		json.Unmarshal(r.Data[0].Embedding, &s)
		b, _ := base64.StdEncoding.DecodeString(s)
		got := make([]float32, len(b)/4)
		for k := range got {
			got[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
		}
		w := want[1][:3]
		n := float32(math.Sqrt(float64(w[0]*w[0] + w[1]*w[1] + w[2]*w[2])))
		if !near(got, []float32{w[0] / n, w[1] / n, w[2] / n}) {
			t.Errorf("base64, 3 dimensions: %v; want %v normalised", got, w)
		}
	}
	for _, tc := range []struct {
		req  map[string]any
		want string
	}{
		{map[string]any{"input": []int{1, 2, 3}}, "token ids are not taken: send the texts; LangChain's OpenAIEmbeddings sends OpenAI's token ids unless check_embedding_ctx_length=False"},
		{map[string]any{"input": []string{"a", ""}}, `"input" text 1 is empty`},
		{map[string]any{}, `"input" is missing`},
		{map[string]any{"input": "a", "dimensions": 100000}, `"dimensions" 100000: this model's embeddings have`},
		{map[string]any{"input": "a", "encoding_format": "int8"}, `"encoding_format" "int8"`},
		{map[string]any{"input": "a", "temperature": 1}, "unknown field"},
	} {
		code, _, raw := ask(tc.req)
		var e struct {
			Error struct{ Message, Type string }
		}
		json.Unmarshal([]byte(raw), &e)
		if code != 400 || !strings.Contains(e.Error.Message, tc.want) || e.Error.Type != "invalid_request_error" {
			t.Errorf("%v: status %d, %s; want a 400 naming %q", tc.req, code, raw, tc.want)
		}
	}
}

// modernFolder copies testdata/hf/<name> (a tiny ModernBERT) with
// modernbert-tiny's word-level tokenizer.json ([CLS] … [SEP]).
func modernFolder(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	hf := filepath.Join("..", "..", "testdata", "hf")
	for _, f := range []string{filepath.Join(name, "config.json"), filepath.Join(name, "model.safetensors"), filepath.Join("modernbert-tiny", "tokenizer.json")} {
		b, err := os.ReadFile(filepath.Join(hf, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	return dir
}

// TestModernBERT runs the encoder commands on ModernBERT folders and checks
// them against PyTorch's references for the same texts
// (tools/golden/torch_modernbert.py): fill-mask's best token is the
// reference logits' argmax, embed gives the reference embedding of each
// text (the padded one's included, run alone), classify picks the
// reference logits' label, and a new classifier fine-tunes.
func TestModernBERT(t *testing.T) {
	dir := modernFolder(t, "modernbert-tiny")
	f := golden.Open(t, "hf/modernbert-tiny/reference.safetensors")
	var tok struct {
		Model struct{ Vocab map[string]int }
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatal(err)
	}
	word := map[int]string{}
	for w, id := range tok.Model.Vocab {
		word[id] = w
	}
	texts := []string{"Paris is a very big [MASK] in France.", "I love this movie."} // the reference's two sequences
	logits, v := f.Tensor("mlm.logits").Data, 48
	best := 0
	for i, x := range logits[6*v : 7*v] { // row 0, position 6: the [MASK]
		if x > logits[6*v+best] {
			best = i
		}
	}
	out, code := attn(t, "fill-mask", "--model", dir, "--top-k", "3", texts[0])
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || strings.Fields(lines[0])[0] != word[best] {
		t.Fatalf("attn fill-mask: exit %d\n%s\nwant %q first", code, out, word[best])
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644)
	vs := embedOutput[float32](t, dir, "--pooling", "mean", "--normalize", in)
	if len(vs) != 2 {
		t.Fatalf("attn embed: %d embeddings for two lines", len(vs))
	}
	want := f.Tensor("mlm.embed_mean").Data
	for i, v := range vs {
		golden.CheckAbs(t, fmt.Sprintf("embedding %d", i), v, want[i*32:(i+1)*32], 1e-5)
	}
	cls := modernFolder(t, "modernbert-tiny-cls")
	ref := golden.Open(t, "hf/modernbert-tiny-cls/reference.safetensors").Tensor("cls.logits").Data
	names := []string{"negative", "neutral", "positive"}
	out, code = attn(t, "classify", "--model", cls, "--top-k", "1", "--json", in)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
	for i, line := range lines {
		top := 0
		for j := range 3 {
			if ref[i*3+j] > ref[i*3+top] {
				top = j
			}
		}
		if !strings.Contains(line, `"`+names[top]+`"`) {
			t.Errorf("attn classify line %d: %s; want %s", i, line, names[top])
		}
	}
	var b strings.Builder
	for i := range 240 {
		b.WriteString([]string{"i love this film\tyes\n", "it was not good\tno\n"}[i%2])
	}
	data := filepath.Join(t.TempDir(), "train.tsv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	run := filepath.Join(t.TempDir(), "run")
	out, code = attn(t, "train", "--model", dir, "--data", data, "--epochs", "2", "--batch", "8", "--lr", "1e-3", "--out", run, "--workers", "1")
	if code != 0 || !strings.Contains(out, "a new classifier for 2 labels: no, yes") || !strings.Contains(out, "validation accuracy 1.0000") {
		t.Fatalf("attn train --model MODERNBERT --data: exit %d\n%s", code, out)
	}
	os.WriteFile(in, []byte("i love this film\nit was not good\n"), 0o644)
	out, code = attn(t, "classify", "--model", run, "--top-k", "1", "--json", in)
	if lines = strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"yes"`) || !strings.Contains(lines[1], `"no"`) {
		t.Errorf("attn classify with the fine-tuned ModernBERT: exit %d\n%s", code, out)
	}
}
