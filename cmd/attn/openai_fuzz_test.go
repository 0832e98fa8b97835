package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzServeChat sends any body to /v1/chat/completions of two servers, one
// whose template writes <think> blocks and reads reasoning_content and
// enable_thinking, one in gpt-oss's harmony format (which reads tool calls
// by channel and reasoning_effort): the answer is a 200 with a chat
// completion (or its stream, ending in [DONE], without a server error) or
// a 4xx with an error that says something, never a 500, a panic or a
// dropped connection.
func FuzzServeChat(f *testing.F) {
	for _, seed := range []string{
		`{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "reasoning_content": "x"}, {"role": "user", "content": "ok"}], "max_tokens": 2, "stream": true}`,
		`{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "chat_template_kwargs": {"enable_thinking": false}}`,
		`{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"messages": 1}}`,
		`{"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}`,
		`{"messages": [{"role": "user", "content": "hi", "reasoning_content": "no"}]}`,
		`{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "n": 2, "max_tokens": 2, "stream": true, "stream_options": {"include_usage": true}}`,
		`{"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]}`,
		`{"messages": [{"role": "tool", "content": "x"}]}`,
		`{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stop": ["a", "b"], "seed": -1, "temperature": 1.5, "top_p": 0.5}`,
		`{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "tools": [{"type": "function", "function": {"name": "f"}}], "stream": true, "parallel_tool_calls": false}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "reasoning_content": "y", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c", "content": "1"}], "max_tokens": 2}`,
		`[1, 2]`, `null`, `{"messages": {"role": "user"}}`, ``,
	} {
		f.Add(seed)
	}
	server := func(template string, edits map[int]tokenEdit) string {
		dir, pieces := chatFolder(f)
		setChatTemplate(f, dir, template)
		setTokens(f, dir, pieces, edits)
		return serveDir(f, dir).URL
	}
	urls := []string{
		server(thinkTemplate, map[int]tokenEdit{96: {"</think>", true, false}, 97: {"<think>", true, false}}),
		server(harmonyTemplate, map[int]tokenEdit{92: {"<|channel|>", true, true}, 93: {"<|message|>", true, true}, 94: {"<|end|>", true, true}, 95: {"<|start|>", true, true}}),
	}
	f.Fuzz(func(t *testing.T, body string) {
		var probe struct {
			MaxTokens           *int `json:"max_tokens"`
			MaxCompletionTokens *int `json:"max_completion_tokens"`
			N                   *int `json:"n"`
		}
		// Long replies are slow, not wrong: keep each request small.
		// (the model's context is 256 tokens, the longest reply).
		if json.Unmarshal([]byte(body), &probe) == nil && (probe.MaxTokens != nil && *probe.MaxTokens > 64 ||
			probe.MaxCompletionTokens != nil && *probe.MaxCompletionTokens > 64 || probe.N != nil && *probe.N > 4) {
			return
		}
		for _, url := range urls {
			checkChatAnswer(t, url, body)
		}
	})
}

// checkChatAnswer posts body to the chat endpoint at url and checks that
// the answer is one FuzzServeChat accepts.
func checkChatAnswer(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q: reading the answer: %v", body, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		if !strings.HasSuffix(strings.TrimSpace(string(raw)), "data: [DONE]") || strings.Contains(string(raw), `"server_error"`) {
			t.Fatalf("%q: a stream that does not end with [DONE], or reports a server error:\n%s", body, raw)
		}
	case resp.StatusCode == http.StatusOK:
		var v chatResponse
		if json.Unmarshal(raw, &v) != nil || v.Object != "chat.completion" || len(v.Choices) == 0 {
			t.Fatalf("%q: 200 with %s", body, raw)
		}
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		var e struct {
			Error struct{ Message string }
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
			t.Fatalf("%q: %d without an error message: %s", body, resp.StatusCode, raw)
		}
	default:
		t.Fatalf("%q: status %d: %s", body, resp.StatusCode, raw)
	}
}
