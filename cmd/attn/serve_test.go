package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/tokenizer"
)

// post sends body to url and returns the status and the decoded JSON reply.
func post(t testing.TB, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("POST %s: status %d, reply is not JSON: %q", url, resp.StatusCode, b)
	}
	return resp.StatusCode, v
}

func serveDir(t testing.TB, dir string) *httptest.Server {
	t.Helper()
	s, err := newServer(dir, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler())
	t.Cleanup(func() { ts.Close(); s.close() })
	return ts
}

// gptFolder saves a tiny random GPT with a character tokenizer.
func gptFolder(t *testing.T) string {
	dir := t.TempDir()
	chars := tokenizer.NewChars("abcdefghijklmnopqrstuvwxyz .\n")
	m, err := gpt.New(gpt.Config{VocabSize: chars.VocabSize(), NPositions: 32, NEmbd: 16, NLayer: 1, NHead: 2, Eps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := gpt.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(chars)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644)
	return dir
}

func TestServeGenerate(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	url := ts.URL + "/v1/generate"
	code, v := post(t, url, `{"prompt": "the cat", "max_new_tokens": 40, "seed": 3}`)
	if code != http.StatusOK || v["tokens"] != 40.0 || len(v["text"].(string)) != 40 {
		t.Fatalf("generate: status %d, %v", code, v)
	}
	// The same seed gives the same text; a stop string cuts it.
	text := v["text"].(string)
	if _, again := post(t, url, `{"prompt": "the cat", "max_new_tokens": 40, "seed": 3}`); again["text"] != text {
		t.Errorf("the same request gave %q, then %q", text, again["text"])
	}
	stop := text[10:12]
	body, _ := json.Marshal(map[string]any{"prompt": "the cat", "max_new_tokens": 40, "seed": 3, "stop": []string{stop}})
	code, v = post(t, url, string(body))
	if want := text[:strings.Index(text, stop)]; code != http.StatusOK || v["text"] != want || v["stop_found"] != true {
		t.Errorf("stop %q: status %d, %v; want text %q", stop, code, v, want)
	}
	// Greedy decoding ignores the seed.
	_, g1 := post(t, url, `{"prompt": "a", "max_new_tokens": 10, "temperature": 0, "seed": 1}`)
	_, g2 := post(t, url, `{"prompt": "a", "max_new_tokens": 10, "temperature": 0, "seed": 2}`)
	if g1["text"] != g2["text"] {
		t.Errorf("greedy: %q and %q", g1["text"], g2["text"])
	}

	for _, tc := range []struct {
		body string
		code int
		says string
	}{
		{``, 400, "empty"},
		{`{"prompt": "the cat"`, 400, "not the JSON"},
		{`{"prompt": 7}`, 400, "not the JSON"},
		{`{"prompt": "a", "max_tokens": 5}`, 400, `unknown field "max_tokens"`},
		{`{"prompt": "a"} {"prompt": "b"}`, 400, "more than one"},
		{`{"max_new_tokens": 5}`, 400, `"prompt" is missing`},
		{`{"prompt": "a", "max_new_tokens": 0}`, 400, `"max_new_tokens" is 0`},
		{`{"prompt": "a", "max_new_tokens": 100000}`, 400, `"max_new_tokens" is 100000`},
		{`{"prompt": "naïve"}`, 400, "cannot encode character 'ï'"},
		{`{"prompt": "a", "temperature": -1}`, 400, "temperature"},
		{`{"prompt": "` + strings.Repeat("a", maxBody) + `"}`, 413, "over"},
	} {
		code, v := post(t, url, tc.body)
		msg, _ := v["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.says) {
			t.Errorf("body %.40q: status %d, error %q; want %d naming %q", tc.body, code, msg, tc.code, tc.says)
		}
	}
	if code, v := post(t, url, `{"prompt": "a", "beam": 2}`); code != 400 || !strings.Contains(v["error"].(string), "a GPT samples") {
		t.Errorf("beam 2 on a GPT: status %d, %v", code, v)
	}
	if code, v := post(t, ts.URL+"/v1/embed", `{"input": ["a"]}`); code != 404 || !strings.Contains(v["error"].(string), "POST /v1/generate") {
		t.Errorf("embed on a GPT: status %d, %v", code, v)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/generate: status %d; want 405", resp.StatusCode)
	}
	resp, err = http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), `fetch("/v1/model")`) {
		t.Errorf("GET /: status %d, %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(page))
	}
	if resp, err := http.Get(ts.URL + "/nothing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing: %v, %v; want 404", resp.StatusCode, err)
	}
	resp, err = http.Get(ts.URL + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["model_type"] != "gpt2" || info["endpoint"] != "/v1/generate" {
		t.Errorf("GET /v1/model: %v", info)
	}
}

func TestServeEmbed(t *testing.T) {
	dir := bertFolder(t)
	ts := serveDir(t, dir)
	url := ts.URL + "/v1/embed"
	code, v := post(t, url, `{"input": ["Paris is the capital of France.", "the capital"], "normalize": true}`)
	vecs, _ := v["embeddings"].([]any)
	if code != http.StatusOK || len(vecs) != 2 {
		t.Fatalf("embed: status %d, %v", code, v)
	}
	// One request of two texts gives what the command line gives.
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("Paris is the capital of France.\nthe capital\n"), 0o644)
	out, _ := attn(t, "embed", "--model", dir, "--normalize", in)
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Embedding []float64 }
		json.Unmarshal([]byte(line), &e)
		got := vecs[i].([]any)
		var norm float64
		for j, x := range got {
			norm += x.(float64) * x.(float64)
			if math.Abs(x.(float64)-e.Embedding[j]) > 1e-6 {
				t.Fatalf("text %d, value %d: served %v, attn embed %v", i, j, x, e.Embedding[j])
			}
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("text %d: squared norm %v with normalize", i, norm)
		}
	}
	for _, tc := range []struct{ body, says string }{
		{`{"input": []}`, `"input" has 0 texts`},
		{`{"input": ["a"], "pooling": "last"}`, `"pooling": pooling "last": want one of [cls mean max mean_sqrt_len lasttoken]`},
		{`{"input": ["two\nlines"]}`, "line break"},
		{`{"images": ["aGk="]}`, `this server embeds texts: send "input"`},
	} {
		if code, v := post(t, url, tc.body); code != 400 || !strings.Contains(v["error"].(string), tc.says) {
			t.Errorf("body %q: status %d, %v; want 400 naming %q", tc.body, code, v, tc.says)
		}
	}
}

func TestServeTranslate(t *testing.T) {
	dir := mtFolder(t)
	ts := serveDir(t, dir)
	url := ts.URL + "/v1/translate"
	code, v := post(t, url, `{"input": ["zwei hunde.", "ein mann.", "katze."], "beam": 2}`)
	got, _ := v["translations"].([]any)
	if code != http.StatusOK || len(got) != 3 {
		t.Fatalf("translate: status %d, %v", code, v)
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("zwei hunde.\nein mann.\nkatze.\n"), 0o644)
	out, _ := attn(t, "translate", "--model", dir, "--beam", "2", in)
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if got[i] != line {
			t.Errorf("sentence %d: served %q, attn translate %q", i, got[i], line)
		}
	}
	if code, v := post(t, url, `{"input": ["a"], "beam": 0}`); code != 400 || !strings.Contains(v["error"].(string), `"beam" is 0`) {
		t.Errorf("beam 0: status %d, %v", code, v)
	}
}

// TestServeStream: with "stream", the text arrives as server-sent events
// whose pieces add up to the text of the same request without it, then a
// last event with the counts.
func TestServeStream(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	url := ts.URL + "/v1/generate"
	const body = `{"prompt": "the cat", "max_new_tokens": 30, "seed": 5, "stop": ["zz"]`
	_, whole := post(t, url, body+`}`)
	resp, err := http.Post(url, "application/json", strings.NewReader(body+`, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: status %d, %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var text strings.Builder
	var last map[string]any
	events := strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n")
	for _, ev := range events {
		var v map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &v); err != nil || !strings.HasPrefix(ev, "data: ") {
			t.Fatalf("event %q: %v", ev, err)
		}
		if s, ok := v["text"].(string); ok {
			text.WriteString(s)
		}
		last = v
	}
	if len(events) < 3 || text.String() != whole["text"] || last["done"] != true || last["tokens"] != whole["tokens"] {
		t.Errorf("%d events adding up to %q, last %v; without stream %v", len(events), text.String(), last, whole)
	}
	if code, v := post(t, url, `{"prompt": "a", "max_new_tokens": 0, "stream": true}`); code != 400 || !strings.Contains(v["error"].(string), "max_new_tokens") {
		t.Errorf("a bad streaming request: status %d, %v", code, v)
	}
}

// TestServeClientGone: a request whose client has gone away computes
// nothing more.
func TestServeClientGone(t *testing.T) {
	s, err := newServer(gptFolder(t), 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if resp, err := s.generate(ctx, generateRequest{Prompt: "a", MaxNewTokens: 50, Temperature: 1, TopK: 0, TopP: 1, Beam: 1}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("generate for a client that has gone: %v, %v", resp, err)
	}
	// Gone during generation: it stops at the next token.
	ctx, cancel = context.WithCancel(context.Background())
	n := 0
	s.lmTok = countingTok{s.lmTok, func() {
		if n++; n == 5 {
			cancel()
		}
	}}
	if _, err := s.generate(ctx, generateRequest{Prompt: "a", MaxNewTokens: 50, Temperature: 1, TopP: 1, Beam: 1}, nil); !errors.Is(err, context.Canceled) || n > 6 {
		t.Errorf("cancelled after 5 tokens: %v after %d decodes", err, n)
	}
}

// countingTok calls hook at every Decode.
type countingTok struct {
	tokenizer.Tokenizer
	hook func()
}

func (c countingTok) Decode(ids []int) (string, error) {
	c.hook()
	return c.Tokenizer.Decode(ids)
}

// TestServeT5 answers text-to-text prompts with beam search, as attn
// generate does.
func TestServeT5(t *testing.T) {
	dir := t5Folder(t)
	ts := serveDir(t, dir)
	url := ts.URL + "/v1/generate"
	for _, beam := range []string{"1", "3"} {
		code, v := post(t, url, `{"prompt": "HELLO", "max_new_tokens": 8, "beam": `+beam+`}`)
		out, _ := attn(t, "generate", "--model", dir, "--beam", beam, "--max-new-tokens", "8", "HELLO")
		if code != http.StatusOK || v["text"] != strings.TrimSpace(out) {
			t.Errorf("beam %s: status %d, %v; attn generate gives %q", beam, code, v, out)
		}
	}
	if code, v := post(t, url, `{"prompt": "HELLO", "stream": true}`); code != 400 || !strings.Contains(v["error"].(string), "a T5 answers whole") {
		t.Errorf("stream on a T5: status %d, %v", code, v)
	}
	if code, v := post(t, url, `{"prompt": "HELLO", "beam": 99}`); code != 400 || !strings.Contains(v["error"].(string), `"beam" is 99`) {
		t.Errorf("beam 99: status %d, %v", code, v)
	}
}

func TestServeWrongModel(t *testing.T) {
	if _, err := newServer(t.TempDir(), 8, 0); err == nil || !strings.Contains(err.Error(), "holds no model") {
		t.Errorf("an empty folder: %v", err)
	}
}

// TestServeClassifyText: a BERT sequence classifier answers
// /v1/classify with what attn classify prints, and refuses images.
func TestServeClassifyText(t *testing.T) {
	dir := bertFolderOf(t, "bert-tiny-cls")
	ts := serveDir(t, dir)
	code, v := post(t, ts.URL+"/v1/classify", `{"input": ["Paris is the capital of France.", "the capital\tof france"], "top_k": 2}`)
	raw, _ := json.Marshal(v["labels"])
	var got [][]label
	json.Unmarshal(raw, &got)
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("Paris is the capital of France.\nthe capital\tof france\n"), 0o644)
	out, _ := attn(t, "classify", "--model", dir, "--top-k", "2", "--json", in)
	var want [][]label
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct{ Labels []label }
		json.Unmarshal([]byte(line), &r)
		want = append(want, r.Labels)
	}
	if code != http.StatusOK || len(got) != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("classify: status %d\nserved        %v\nattn classify %v", code, got, want)
	}
	for _, tc := range []struct{ body, says string }{
		{`{"input": [], "top_k": 1}`, `"input" has 0 texts`},
		{`{"images": ["aGk="], "top_k": 1}`, `this server classifies texts: send "input"`},
		{`{"input": ["a"], "top_k": 0}`, `"top_k" is 0`},
	} {
		if code, v := post(t, ts.URL+"/v1/classify", tc.body); code != 400 || !strings.Contains(v["error"].(string), tc.says) {
			t.Errorf("body %q: status %d, %v; want 400 naming %q", tc.body, code, v, tc.says)
		}
	}
	resp, err := http.Get(ts.URL + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Endpoint string }
	if json.NewDecoder(resp.Body).Decode(&m); m.Endpoint != "/v1/classify" {
		t.Errorf("/v1/model endpoint %q; want /v1/classify", m.Endpoint)
	}
}

// TestServeConcurrentGenerate sends requests at once, more than the batch
// holds, some streamed and some with stop strings, and checks that each
// gets the text it gets when sent alone.
func TestServeConcurrentGenerate(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	url := ts.URL + "/v1/generate"
	var bodies []string
	for i := range 12 {
		req := map[string]any{"prompt": strings.Repeat("the cat ", 1+i%4), "max_new_tokens": 10 + 7*i, "seed": i, "stream": i%3 == 1}
		if i%4 == 2 {
			req["temperature"] = 0
		}
		if i%5 == 3 {
			req["stop"] = []string{"e"}
		}
		b, _ := json.Marshal(req)
		bodies = append(bodies, string(b))
	}
	// text gets a request's text, streamed or whole.
	text := func(body string) string {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(body, `"stream":true`) {
			var v generateResponse
			if err := json.Unmarshal(b, &v); err != nil || resp.StatusCode != 200 {
				t.Errorf("%s: status %d, %q", body, resp.StatusCode, b)
			}
			return v.Text
		}
		var all strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			var ev map[string]any
			if data, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil {
				s, _ := ev["text"].(string)
				all.WriteString(s)
			}
		}
		return all.String()
	}
	alone := make([]string, len(bodies))
	for i, b := range bodies {
		alone[i] = text(b)
	}
	together := make([]string, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Go(func() { together[i] = text(b) })
	}
	wg.Wait()
	for i := range bodies {
		if together[i] != alone[i] || alone[i] == "" {
			t.Errorf("%s: %q sent with the others, %q alone", bodies[i], together[i], alone[i])
		}
	}
}

// TestGenerateStopsAtEOS: a model whose config names an end-of-text token
// ends a generation there, without the token in the text, in attn generate,
// /v1/generate and /v1/completions.
func TestGenerateStopsAtEOS(t *testing.T) {
	dir := gptFolder(t)
	out, code := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "6")
	if code != 0 {
		t.Fatal(out)
	}
	text := strings.TrimPrefix(strings.TrimSuffix(out, "\n"), "the cat")
	// Make the third character greedy decoding gives the end of text.
	m, err := gpt.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Encode(text[2:3])
	if err != nil {
		t.Fatal(err)
	}
	m.Cfg.EOS, m.Cfg.HasEOS = enc.IDs[0], true
	if err := gpt.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	want := text[:2]
	if i := strings.Index(want, text[2:3]); i >= 0 {
		want = want[:i]
	}
	if out, _ := attn(t, "generate", "--model", dir, "--prompt", "the cat", "--greedy", "--max-new-tokens", "6"); out != "the cat"+want+"\n" {
		t.Errorf("attn generate: %q; want %q", out, "the cat"+want+"\n")
	}
	ts := serveDir(t, dir)
	code, v := post(t, ts.URL+"/v1/generate", `{"prompt": "the cat", "max_new_tokens": 6, "temperature": 0}`)
	if code != 200 || v["text"] != want || v["stop_found"] != true || v["tokens"] != float64(len(want)+1) {
		t.Errorf("/v1/generate: %d %v; want text %q, stop_found, %d tokens", code, v, want, len(want)+1)
	}
	code, v = post(t, ts.URL+"/v1/completions", `{"model": "m", "prompt": "the cat", "max_tokens": 6, "temperature": 0}`)
	if c, _ := v["choices"].([]any); code != 200 || len(c) != 1 || c[0].(map[string]any)["text"] != want || c[0].(map[string]any)["finish_reason"] != "stop" {
		t.Errorf("/v1/completions: %d %v; want text %q, finish_reason stop", code, v, want)
	}
}

// TestGeneratePrompts: attn generate --prompts answers each line with the
// text attn generate --prompt gives it alone (line i with seed+i), in order,
// and names the line of a prompt it cannot encode.
func TestGeneratePrompts(t *testing.T) {
	dir := gptFolder(t)
	prompts := []string{"the cat", "a dog.", "the", "cats and dogs", "x"}
	file := filepath.Join(t.TempDir(), "prompts.txt")
	os.WriteFile(file, []byte(strings.Join(prompts, "\n")+"\n"), 0o644)
	out, code := attn(t, "generate", "--model", dir, "--prompts", file, "--batch", "2", "--max-new-tokens", "15", "--seed", "4", "--top-k", "5")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != len(prompts) {
		t.Fatalf("exit %d, %d lines for %d prompts:\n%s", code, len(lines), len(prompts), out)
	}
	for i, p := range prompts {
		var got generatedLine
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		alone, _ := attn(t, "generate", "--model", dir, "--prompt", p, "--max-new-tokens", "15", "--seed", fmt.Sprint(4+i), "--top-k", "5")
		if got.Prompt != p || p+got.Text+"\n" != alone || got.Tokens != 15 {
			t.Errorf("line %d: %+v; alone: %q", i+1, got, alone)
		}
	}
	os.WriteFile(file, []byte("the cat\nnaïve\n"), 0o644)
	if out, code := attn(t, "generate", "--model", dir, "--prompts", file); code == 0 || !strings.Contains(out, "line 2: prompt: the tokenizer cannot encode character 'ï'") || strings.Contains(out, `"prompt"`) {
		t.Errorf("a prompt it cannot encode: exit %d, %s; want the error before any answer", code, out)
	}
	os.WriteFile(file, []byte("the cat\n\nthe dog\n"), 0o644)
	if out, code := attn(t, "generate", "--model", dir, "--prompts", file); code == 0 || !strings.Contains(out, "line 2: the prompt is empty") || strings.Contains(out, `"prompt"`) {
		t.Errorf("a blank line: exit %d, %s; want the error before any answer", code, out)
	}
	if out, code := attn(t, "generate", "--model", dir, "--prompts", file, "the bird"); code == 0 || !strings.Contains(out, "not both") {
		t.Errorf("--prompts and a prompt: exit %d, %s", code, out)
	}
	if out, code := attn(t, "generate", "--model", t5Folder(t), "--prompts", file); code == 0 || !strings.Contains(out, "--prompts is for GPT-2 and Llama models") {
		t.Errorf("--prompts with a T5: exit %d, %s", code, out)
	}
	if out, code := attn(t, "generate", "--model", dir, "--prompts", file, "--batch", "0"); code == 0 || !strings.Contains(out, "--batch 0; want 1 or more") {
		t.Errorf("--prompts --batch 0: exit %d, %s", code, out)
	}
	if out, code := attn(t, "generate", "--model", dir, "--beam", "4", "the cat"); code == 0 || !strings.Contains(out, "--beam is for T5 models") {
		t.Errorf("--beam 4 on a GPT: exit %d, %s", code, out)
	}
}

// TestServeMetrics: GET /metrics counts requests by path and status in
// Prometheus's text format, and the GPT batcher's steps and tokens.
func TestServeMetrics(t *testing.T) {
	s, err := newServer(gptFolder(t), 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ts := httptest.NewServer(logRequests(s.handler(), io.Discard, s.metrics))
	defer ts.Close()
	post(t, ts.URL+"/v1/generate", `{"prompt": "the cat", "max_new_tokens": 5}`)
	post(t, ts.URL+"/v1/generate", `{"prompt": "the cat", "max_new_tokens": 7}`)
	post(t, ts.URL+"/v1/generate", `{"prompt": ""}`)
	http.Get(ts.URL + "/no/such/path")
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`attn_requests_total{path="/v1/generate",code="200"} 2`,
		`attn_requests_total{path="/v1/generate",code="400"} 1`,
		`attn_requests_total{path="other",code="404"} 1`,
		`attn_request_seconds_count{path="/v1/generate"} 3`,
		"# TYPE attn_generated_tokens_total counter",
		"attn_generated_tokens_total 12",
		"attn_batch_sequences 0",
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestServeEmbedTogether: concurrent embed requests, run in batches with
// one another, get what each gets alone (to rounding), and one request's
// bad text fails that request only.
func TestServeEmbedTogether(t *testing.T) {
	dir := bertFolder(t)
	texts := []string{"paris is the capital of france .", "the capital", "france", "paris is the capital", "of france .", "the the the", "capital of paris", "is"}
	want := map[string][]float64{}
	for _, text := range texts {
		in := filepath.Join(t.TempDir(), "in.txt")
		os.WriteFile(in, []byte(text+"\n"), 0o644)
		out, code := attn(t, "embed", "--model", dir, in)
		var e struct{ Embedding []float64 }
		if code != 0 || json.Unmarshal([]byte(out), &e) != nil {
			t.Fatalf("attn embed %q: exit %d\n%s", text, code, out)
		}
		want[text] = e.Embedding
	}
	ts := serveDir(t, dir)
	long := strings.Repeat("paris ", 30)
	var wg sync.WaitGroup
	for round := range 3 {
		for i, text := range append(texts, long) {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]any{"input": []string{text}})
				code, v := post(t, ts.URL+"/v1/embed", string(body))
				if text == long {
					if code != 400 || !strings.Contains(fmt.Sprint(v["error"]), "line 1 has 32 tokens; the model takes at most 24") {
						t.Errorf("round %d, the long text: status %d, %v", round, code, v)
					}
					return
				}
				vecs, _ := v["embeddings"].([]any)
				if code != 200 || len(vecs) != 1 {
					t.Errorf("round %d, text %d: status %d, %v", round, i, code, v)
					return
				}
				for k, x := range vecs[0].([]any) {
					if math.Abs(x.(float64)-want[text][k]) > 1e-5 {
						t.Errorf("round %d, text %q, value %d: %v together, %v alone", round, text, k, x, want[text][k])
						return
					}
				}
			})
		}
	}
	wg.Wait()
}

// BenchmarkServeEmbed measures /v1/embed under 8 concurrent clients, each
// sending 16 requests of one sentence, to a MiniLM-shaped BERT (random
// weights: 6 layers, width 384, BERT's vocabulary): requests run together
// (the default) and one at a time. It reports requests per second:
//
//	go test ./cmd/attn -run '^$' -bench ServeEmbed -benchtime 3x
func BenchmarkServeEmbed(b *testing.B) {
	dir := b.TempDir()
	c := bert.DefaultConfig()
	c.Hidden, c.Layers, c.Heads, c.Intermediate = 384, 6, 12, 1536
	m, err := bert.New(c, bert.Parts{Pooler: true}, 1)
	if err != nil {
		b.Fatal(err)
	}
	if err := bert.Save(dir, m); err != nil {
		b.Fatal(err)
	}
	gz, err := os.ReadFile(filepath.Join("..", "..", "tokenizer", "testdata", "bert-base-uncased-vocab.txt.gz"))
	if err != nil {
		b.Fatal(err)
	}
	vocab, err := gunzip("vocab", gz)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vocab.txt"), vocab, 0o644)
	for _, batch := range []int{64, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			defer func(was int) { embedBatchTexts = was }(embedBatchTexts)
			embedBatchTexts = batch
			s, err := newServer(dir, 8, 0)
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(s.handler())
			defer func() { ts.Close(); s.close() }()
			body := `{"input": ["the quick brown fox jumps over the lazy dog near the river bank"]}`
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						for range 16 {
							resp, err := http.Post(ts.URL+"/v1/embed", "application/json", strings.NewReader(body))
							if err != nil {
								b.Errorf("POST /v1/embed: %v", err)
								return
							}
							if resp.StatusCode != 200 {
								b.Errorf("POST /v1/embed: status %d", resp.StatusCode)
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N*8*16)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// TestServeContext: with --context the server keeps at most that many
// positions of a request's context: a prompt longer than it is answered
// from its end.
func TestServeContext(t *testing.T) {
	dir := gptFolder(t) // a window of 32 characters
	s, err := newServer(dir, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler())
	defer func() { ts.Close(); s.close() }()
	prompt := "the cat sat on the mat and the dog"
	code, v := post(t, ts.URL+"/v1/generate", `{"prompt": "`+prompt+`", "max_new_tokens": 12, "temperature": 0}`)
	m, tok, err := loadLM(dir, "serve")
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := encodePrompt(tok, prompt)
	out, err := generate.Text(generate.WithWindow(m, 8), ids, 12, &generate.Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tok.Decode(out)
	whole, _ := generate.Text(m, ids, 12, &generate.Sampler{}, nil)
	if slices.Equal(whole, out) {
		t.Fatal("the model's own window gives the same text: the test would check nothing")
	}
	if code != 200 || v["text"] != want {
		t.Errorf("status %d, %v; want the text %q a window of 8 gives", code, v, want)
	}
	if out, code := attn(t, "serve", "--model", dir, "--context", "-1"); code == 0 || !strings.Contains(out, "--context -1") {
		t.Errorf("--context -1: exit %d\n%s", code, out)
	}
}

// TestServeClassifyTogether: concurrent classify requests (a pair among
// them), run in batches with one another, get the labels each gets alone.
func TestServeClassifyTogether(t *testing.T) {
	dir := bertFolderOf(t, "bert-tiny-cls")
	texts := []string{"paris is the capital of france .", "the capital\tof france", "france", "is the capital", "of paris ."}
	m, tok, err := loadBERT(dir, "classify")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveDir(t, dir)
	var wg sync.WaitGroup
	for round := range 3 {
		for _, text := range texts {
			wg.Go(func() {
				want, err := classifyTexts(m, tok, []string{text}, 2, 1)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := json.Marshal(map[string]any{"input": []string{text}, "top_k": 2})
				code, v := post(t, ts.URL+"/v1/classify", string(body))
				rows, _ := v["labels"].([]any)
				if code != 200 || len(rows) != 1 {
					t.Errorf("round %d, %q: status %d, %v", round, text, code, v)
					return
				}
				for i, l := range rows[0].([]any) {
					got := l.(map[string]any)
					if got["label"] != want[0][i].Label || math.Abs(got["score"].(float64)-float64(want[0][i].Score)) > 1e-5 {
						t.Errorf("round %d, %q, label %d: %v together; %+v alone", round, text, i, got, want[0][i])
					}
				}
			})
		}
	}
	wg.Wait()
}
