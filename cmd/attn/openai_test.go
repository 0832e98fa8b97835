package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeCompletions: OpenAI's completions request gets OpenAI's answer,
// with the text /v1/generate gives for the same settings (OpenAI's
// defaults: temperature 1, no top-k, top-p 1), several prompts and n
// completions each in one request, stop strings, echo and streaming.
func TestServeCompletions(t *testing.T) {
	ts := serveDir(t, gptFolder(t))
	generate := func(prompt string, seed int, extra string) string {
		t.Helper()
		code, v := post(t, ts.URL+"/v1/generate", fmt.Sprintf(`{"prompt": %q, "max_new_tokens": 12, "temperature": 1, "top_k": 0, "top_p": 1, "seed": %d%s}`, prompt, seed, extra))
		if code != http.StatusOK {
			t.Fatalf("generate: %d %v", code, v)
		}
		return v["text"].(string)
	}
	complete := func(body string) (int, completionResponse, string) {
		t.Helper()
		resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v completionResponse
		json.Unmarshal(b, &v)
		return resp.StatusCode, v, string(b)
	}

	code, v, raw := complete(`{"model": "tiny", "prompt": "the cat", "max_tokens": 12, "seed": 3}`)
	if code != http.StatusOK || v.Object != "text_completion" || v.Model != "tiny" || !strings.HasPrefix(v.ID, "cmpl-") || v.Created == 0 || len(v.Choices) != 1 {
		t.Fatalf("completion: status %d, %s", code, raw)
	}
	c := v.Choices[0]
	if want := generate("the cat", 3, ""); c.Text != want || c.Index != 0 || *c.FinishReason != "length" || !strings.Contains(raw, `"logprobs":null`) {
		t.Errorf("choice %+v; want text %q, finish_reason length, logprobs null", c, want)
	}
	if u := v.Usage; u == nil || u.PromptTokens != 7 || u.CompletionTokens != 12 || u.TotalTokens != 19 {
		t.Errorf("usage %+v; want 7 + 12 = 19", v.Usage)
	}

	// Two prompts, two completions each, with seeds 5 to 8, and echo.
	code, v, raw = complete(`{"model": "m", "prompt": ["a cat", "the dog"], "n": 2, "max_tokens": 12, "seed": 5, "echo": true}`)
	if code != http.StatusOK || len(v.Choices) != 4 {
		t.Fatalf("2 prompts, n 2: status %d, %s", code, raw)
	}
	for i, c := range v.Choices {
		prompt := []string{"a cat", "the dog"}[i/2]
		if want := prompt + generate(prompt, 5+i, ""); c.Index != i || c.Text != want {
			t.Errorf("choice %d: %+v; want index %d, text %q", i, c, i, want)
		}
	}
	if v.Usage.PromptTokens != 5+7 || v.Usage.CompletionTokens != 4*12 {
		t.Errorf("usage %+v; want 12 prompt tokens and 48 completion tokens", v.Usage)
	}

	// A stop string, given alone.
	text := generate("the cat", 3, "")
	stop := text[4:6]
	_, v, raw = complete(fmt.Sprintf(`{"model": "m", "prompt": "the cat", "max_tokens": 12, "seed": 3, "stop": %q}`, stop))
	if len(v.Choices) != 1 || v.Choices[0].Text != text[:strings.Index(text, stop)] || *v.Choices[0].FinishReason != "stop" {
		t.Errorf("stop %q: %s; want the text cut before it and finish_reason stop", stop, raw)
	}

	// Streaming: chunks per choice add up to the whole text, each choice
	// ends with its finish_reason, and the stream with [DONE].
	code, _, raw = complete(`{"model": "m", "prompt": ["a cat", "the dog"], "max_tokens": 12, "seed": 5, "stream": true}`)
	texts, finished := map[int]string{}, map[int]string{}
	lines := strings.Split(strings.TrimSpace(raw), "\n\n")
	for _, l := range lines[:len(lines)-1] {
		var ev completionResponse
		if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &ev); err != nil || len(ev.Choices) != 1 || ev.Object != "text_completion" {
			t.Fatalf("stream event %q: %v", l, err)
		}
		c := ev.Choices[0]
		texts[c.Index] += c.Text
		if c.FinishReason != nil {
			finished[c.Index] = *c.FinishReason
		}
	}
	if code != http.StatusOK || lines[len(lines)-1] != "data: [DONE]" {
		t.Errorf("stream: status %d, last event %q; want data: [DONE]", code, lines[len(lines)-1])
	}
	for i, p := range []string{"a cat", "the dog"} {
		if want := generate(p, 5+i, ""); texts[i] != want || finished[i] != "length" {
			t.Errorf("streamed choice %d: %q, finish %q; want %q, length", i, texts[i], finished[i], want)
		}
	}

	// With stream_options' include_usage, a last chunk before [DONE] has no
	// choices and the usage of the whole answer.
	_, whole, _ := complete(`{"model": "m", "prompt": ["a cat", "the dog"], "max_tokens": 12, "seed": 5}`)
	code, _, raw = complete(`{"model": "m", "prompt": ["a cat", "the dog"], "max_tokens": 12, "seed": 5, "stream": true, "stream_options": {"include_usage": true}}`)
	lines = strings.Split(strings.TrimSpace(raw), "\n\n")
	var last completionResponse
	if n := len(lines); code != http.StatusOK || n < 2 || lines[n-1] != "data: [DONE]" || json.Unmarshal([]byte(strings.TrimPrefix(lines[n-2], "data: ")), &last) != nil ||
		last.Choices == nil || len(last.Choices) != 0 || last.Usage == nil || whole.Usage == nil || *last.Usage != *whole.Usage {
		t.Errorf("stream with include_usage: status %d, %s; want a last chunk with no choices and the usage %+v", code, raw, whole.Usage)
	}

	for _, tc := range []struct{ body, says string }{
		{`{"model": "m"}`, `"prompt" is missing`},
		{`{"model": "m", "prompt": [1, 2]}`, "token ids are not taken"},
		{`{"model": "m", "prompt": []}`, "empty list"},
		{`{"model": "m", "prompt": "a", "n": 0}`, `"n" is 0`},
		{`{"model": "m", "prompt": ["a", "b"], "n": 9}`, "at most 16 completions"},
		{`{"model": "m", "prompt": "a", "max_tokens": 0}`, `"max_tokens" is 0`},
		{`{"model": "m", "prompt": "a", "temperature": 2.5}`, `"temperature" is 2.5`},
		{`{"model": "m", "prompt": "a", "top_p": 1.5}`, `"top_p" is 1.5`},
		{`{"model": "m", "prompt": "a", "top_p": 1.5, "stream": true}`, `"top_p" is 1.5`},
		{`{"model": "m", "prompt": "", "stream": true}`, "empty text"},
		{`{"model": "m", "prompt": ["a", "b", "c", "d"], "n": 4611686018427387904, "max_tokens": 1}`, `"n" is 4611686018427387904`},
		{`{"model": "m", "prompt": "a", "logprobs": 2}`, `"logprobs" is not supported`},
		{`{"model": "m", "prompt": "a", "suffix": "b"}`, `"suffix" is not supported`},
		{`{"model": "m", "prompt": "a", "presence_penalty": 1}`, "not supported"},
		{`{"model": "m", "prompt": "a", "stop": ["a", "b", "c", "d", "e"]}`, "at most 4"},
		{`{"model": "m", "prompt": "naïve"}`, "cannot encode"},
		{`{"model": "m", "prompt": "a", "frobnicate": 1}`, `unknown field "frobnicate"`},
		{`{"model": "m", "prompt": "a", "stream_options": {"include_usage": true}}`, `"stream_options" is for "stream": true`},
	} {
		code, _, raw := complete(tc.body)
		var e struct {
			Error struct{ Message, Type string }
		}
		json.Unmarshal([]byte(raw), &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error.Message, tc.says) || e.Error.Type != "invalid_request_error" {
			t.Errorf("%s: status %d, %s; want 400 with an OpenAI error naming %q", tc.body, code, raw, tc.says)
		}
	}
}

// TestCompletionChoices: top_p 0 is greedy, as OpenAI's narrowest nucleus,
// and no two choices share a seed, even without one given.
func TestCompletionChoices(t *testing.T) {
	zero, one := 0.0, 1.0
	req := completionRequest{Prompt: json.RawMessage(`["a", "a"]`), openAIOptions: openAIOptions{TopP: &zero}}
	_, gens, err := req.generations()
	if err != nil || len(gens) != 2 || gens[0].TopK != 1 || gens[0].Seed == gens[1].Seed {
		t.Errorf("top_p 0: %+v, %v; want top-k 1 and two seeds", gens, err)
	}
	req = completionRequest{Prompt: json.RawMessage(`"a"`), openAIOptions: openAIOptions{TopP: &one}}
	if _, gens, _ := req.generations(); len(gens) != 1 || gens[0].TopK != 0 {
		t.Errorf("top_p 1: %+v; want no top-k", gens)
	}
}

func TestServeCompletionsNotGPT(t *testing.T) {
	ts := serveDir(t, t5Folder(t))
	code, v := post(t, ts.URL+"/v1/completions", `{"model": "m", "prompt": "a"}`)
	if e, _ := v["error"].(map[string]any); code != http.StatusNotFound || e == nil || !strings.Contains(e["message"].(string), "for GPT models") {
		t.Errorf("completions on a T5: %d %v", code, v)
	}
	code, v = post(t, ts.URL+"/v1/embeddings", `{"model": "m", "input": "a"}`)
	if e, _ := v["error"].(map[string]any); code != http.StatusNotFound || e == nil || !strings.Contains(e["message"].(string), "/v1/embeddings is for text embedding models; this server runs a t5 model") {
		t.Errorf("embeddings on a T5: %d %v", code, v)
	}
}
