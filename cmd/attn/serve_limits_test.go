package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/tokenizer"
)

// Regression tests for what a review of attn serve found (session 37): each
// failed before its fix.

// accentedGPTFolder is a tiny random GPT whose characters are mostly two
// bytes long in UTF-8.
func accentedGPTFolder(t *testing.T) string {
	dir := t.TempDir()
	chars := tokenizer.NewChars("aéèêëàâîïôöüç ")
	m, err := gpt.New(gpt.Config{VocabSize: chars.VocabSize(), NPositions: 64, NEmbd: 16, NLayer: 1, NHead: 2, Eps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := gpt.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(chars)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// streamed posts body with "stream": true added and returns the text of its
// events, each event's JSON given to text.
func streamed(t *testing.T, url, body string, text func(event []byte) string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(strings.TrimSuffix(body, "}")+`, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var b strings.Builder
	for _, ev := range strings.Split(strings.TrimSpace(string(raw)), "\n\n") {
		b.WriteString(text([]byte(strings.TrimPrefix(ev, "data: "))))
	}
	return b.String()
}

// TestStreamKeepsCharactersWhole: a streamed answer with a stop string adds
// up to the answer sent whole. (Text held back by the stop string's length
// was cut inside a two-byte character, whose halves went out as U+FFFD.)
func TestStreamKeepsCharactersWhole(t *testing.T) {
	ts := serveDir(t, accentedGPTFolder(t))
	body := `{"prompt": "a", "max_new_tokens": 30, "seed": 5, "stop": ["zz"]}`
	_, whole := post(t, ts.URL+"/v1/generate", body)
	got := streamed(t, ts.URL+"/v1/generate", body, func(ev []byte) string {
		var v struct{ Text string }
		json.Unmarshal(ev, &v)
		return v.Text
	})
	if got != whole["text"] || strings.Contains(got, "\uFFFD") {
		t.Errorf("/v1/generate streamed %q\nwhole %q", got, whole["text"])
	}
	body = `{"prompt": "a", "max_tokens": 30, "seed": 5, "stop": ["zz"]}`
	_, whole = post(t, ts.URL+"/v1/completions", body)
	want := whole["choices"].([]any)[0].(map[string]any)["text"]
	got = streamed(t, ts.URL+"/v1/completions", body, func(ev []byte) string {
		var v completionResponse
		if json.Unmarshal(ev, &v) == nil && len(v.Choices) == 1 {
			return v.Choices[0].Text
		}
		return ""
	})
	if got != want {
		t.Errorf("/v1/completions streamed %q\nwhole %q", got, want)
	}
}

// TestStreamOnStoppedServer: a streamed request to a server whose batcher
// has stopped gets 503, as the same request unstreamed does (it got 400,
// blaming the client).
func TestStreamOnStoppedServer(t *testing.T) {
	s, err := newServer(gptFolder(t), 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler())
	defer ts.Close()
	s.close()
	for _, body := range []string{`{"prompt": "a"}`, `{"prompt": "a", "stream": true}`} {
		if code, v := post(t, ts.URL+"/v1/generate", body); code != http.StatusServiceUnavailable {
			t.Errorf("%s on a stopped server: %d %v; want 503", body, code, v)
		}
	}
}

// TestTrailingJunkRefused: a body with anything after its JSON object is
// refused, a stray '}' or ']' included (json.Decoder.More let those pass).
func TestTrailingJunkRefused(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	for _, c := range []struct{ path, body string }{
		{"/v1/generate", `{"prompt": "a", "max_new_tokens": 2}}`},
		{"/v1/generate", `{"prompt": "a", "max_new_tokens": 2}]`},
		{"/v1/generate", `{"prompt": "a", "max_new_tokens": 2} {}`},
		{"/v1/completions", `{"prompt": "a", "max_tokens": 2}]]]`},
	} {
		if code, v := post(t, ts.URL+c.path, c.body); code != 400 || !strings.Contains(errorText(v), "more than one JSON value, or text after it") {
			t.Errorf("%s %s: %d %v; want 400 naming what follows the JSON", c.path, c.body, code, v)
		}
	}
	if code, v := post(t, ts.URL+"/v1/generate", "{\"prompt\": \"a\", \"max_new_tokens\": 2}\n \n"); code != 200 {
		t.Errorf("a body with spaces after its JSON: %d %v; want 200", code, v)
	}
}

// TestMetricsNameEveryEndpoint: /v1/embeddings and /v1/models are counted
// under their names, not "other".
func TestMetricsNameEveryEndpoint(t *testing.T) {
	s, err := newServer(bertFolder(t), 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ts := httptest.NewServer(logRequests(s.handler(), io.Discard, s.metrics))
	defer ts.Close()
	if code, v := post(t, ts.URL+"/v1/embeddings", `{"model": "m", "input": "the capital"}`); code != 200 {
		t.Fatalf("/v1/embeddings: %d %v", code, v)
	}
	if resp, err := http.Get(ts.URL + "/v1/models"); err == nil {
		resp.Body.Close()
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`attn_requests_total{path="/v1/embeddings",code="200"} 1`, `attn_requests_total{path="/v1/models",code="200"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, b)
		}
	}
}

// TestGenerateLimits: /v1/generate takes at most maxStops stop strings
// (150,000 had made a 200-token request 250 times slower), and a T5 a
// prompt of at most maxT5Prompt tokens (its encoder's memory grows with the
// square: 4,000 tokens took 1.5 GB).
func TestGenerateLimits(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	stops := make([]string, maxStops+1)
	for i := range stops {
		stops[i] = "zz"
	}
	body, _ := json.Marshal(map[string]any{"prompt": "a", "max_new_tokens": 2, "stop": stops})
	if code, v := post(t, ts.URL+"/v1/generate", string(body)); code != 400 || !strings.Contains(errorText(v), `"stop" has 17 strings; want at most 16`) {
		t.Errorf("%d stop strings: %d %v; want 400 naming the limit", len(stops), code, v)
	}
	body, _ = json.Marshal(map[string]any{"prompt": "a", "max_new_tokens": 2, "stop": stops[:maxStops]})
	if code, v := post(t, ts.URL+"/v1/generate", string(body)); code != 200 {
		t.Errorf("%d stop strings: %d %v; want 200", maxStops, code, v)
	}
	t5 := serveDir(t, t5Folder(t))
	code, v := post(t, t5.URL+"/v1/generate", `{"prompt": "`+strings.Repeat("A", 3*maxT5Prompt)+`", "max_new_tokens": 1}`)
	if code != 400 || !strings.Contains(errorText(v), "want at most 2048") {
		t.Errorf("a T5 prompt of %d characters: %d %v; want 400 naming the limit", 3*maxT5Prompt, code, v)
	}
}

// TestTopPZeroIsGreedy: "top_p": 0, the narrowest nucleus, is the most
// likely token on /v1/generate as on /v1/completions (it sampled from the
// whole distribution).
func TestTopPZeroIsGreedy(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	_, greedy := post(t, ts.URL+"/v1/generate", `{"prompt": "the cat", "max_new_tokens": 20, "temperature": 0}`)
	for _, seed := range []string{"1", "2"} {
		_, v := post(t, ts.URL+"/v1/generate", `{"prompt": "the cat", "max_new_tokens": 20, "top_k": 0, "top_p": 0, "temperature": 1, "seed": `+seed+`}`)
		if v["text"] != greedy["text"] {
			t.Errorf("top_p 0, seed %s: %q; greedy gives %q", seed, v["text"], greedy["text"])
		}
	}
}

// errorText returns a response's error message: attn's endpoints give it as
// "error", OpenAI's as "error": {"message": ...}.
func errorText(v map[string]any) string {
	switch e := v["error"].(type) {
	case string:
		return e
	case map[string]any:
		m, _ := e["message"].(string)
		return m
	}
	return ""
}

// TestT5StopsWhenClientGone: a T5's beam search ends when its request's
// context does (it ran to its end, holding the model, after the client had
// left).
func TestT5StopsWhenClientGone(t *testing.T) {
	tm, err := loadT5(t5Folder(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	close(done)
	if _, _, err := tm.answer("HELLO", 4, 50, 0, done); !errors.Is(err, context.Canceled) {
		t.Errorf("answer with its request gone: %v; want context.Canceled", err)
	}
	if _, _, err := tm.answer("HELLO", 4, 5, 0, make(chan struct{})); err != nil {
		t.Errorf("answer with its request open: %v", err)
	}
}

// TestQueuedRequestGivesUp: a request waiting for the model gives up when
// its context ends, while the model is still busy (it waited its turn).
func TestQueuedRequestGivesUp(t *testing.T) {
	var l modelLock
	if err := l.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- l.lock(ctx) }()
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a queued lock whose context ended: %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a queued lock whose context ended still waits for the model")
	}
	l.Unlock()
	if err := l.lock(context.Background()); err != nil { // free again, and not taken by the one that gave up
		t.Errorf("lock after Unlock: %v", err)
	}
	l.Unlock()
}
