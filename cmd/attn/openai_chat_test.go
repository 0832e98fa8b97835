package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/tokenizer"
)

// chatPost sends a chat completions request and returns the status, the
// decoded answer (not streamed) and the raw body.
func chatPost(t *testing.T, url, body string) (int, chatResponse, string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v chatResponse
	json.Unmarshal(b, &v)
	return resp.StatusCode, v, string(b)
}

// chatStream is a streamed answer taken apart: each choice's text and
// finish_reason, and the usage of the last chunk.
type chatStream struct {
	texts, finish map[int]string
	usage         *completionUsage
}

// readChatStream checks the events of a streamed answer as OpenAI sends
// them (each choice's first delta the role, then content, then an empty
// delta with the finish_reason; with include_usage a usage of null on each
// chunk and a last chunk with none; then [DONE]) and puts them together.
func readChatStream(t *testing.T, raw string, n int, includeUsage bool) chatStream {
	t.Helper()
	s := chatStream{texts: map[int]string{}, finish: map[int]string{}}
	events := strings.Split(strings.TrimSpace(raw), "\n\n")
	if events[len(events)-1] != "data: [DONE]" {
		t.Fatalf("the stream does not end with [DONE]:\n%s", raw)
	}
	events = events[:len(events)-1]
	if includeUsage {
		last := events[len(events)-1]
		events = events[:len(events)-1]
		var u struct {
			Object  string
			Choices []chatChoice
			Usage   *completionUsage
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(last, "data: ")), &u); err != nil || u.Object != "chat.completion.chunk" || u.Choices == nil || len(u.Choices) != 0 || u.Usage == nil {
			t.Fatalf("the last chunk %q; want an empty list of choices and the usage", last)
		}
		s.usage = u.Usage
	}
	begun := map[int]bool{}
	for _, e := range events {
		body, ok := strings.CutPrefix(e, "data: ")
		var ev struct {
			ID, Object string
			Choices    []struct {
				Index        int
				Delta        map[string]any
				FinishReason *string `json:"finish_reason"`
			}
			Usage json.RawMessage
		}
		if !ok || json.Unmarshal([]byte(body), &ev) != nil || ev.Object != "chat.completion.chunk" || !strings.HasPrefix(ev.ID, "chatcmpl-") || len(ev.Choices) != 1 {
			t.Fatalf("stream event %q", e)
		}
		if includeUsage != (string(ev.Usage) == "null") {
			t.Errorf("stream event %q: usage null only with include_usage", e)
		}
		c := ev.Choices[0]
		switch {
		case !begun[c.Index]:
			if c.Delta["role"] != "assistant" || c.FinishReason != nil {
				t.Errorf("choice %d's first event %q; want the role assistant", c.Index, e)
			}
			begun[c.Index] = true
		case c.FinishReason != nil:
			if len(c.Delta) != 0 || s.finish[c.Index] != "" {
				t.Errorf("choice %d's last event %q; want an empty delta, once", c.Index, e)
			}
			s.finish[c.Index] = *c.FinishReason
		default:
			text, _ := c.Delta["content"].(string)
			if text == "" || s.finish[c.Index] != "" {
				t.Errorf("event %q: want content, before the finish_reason", e)
			}
			s.texts[c.Index] += text
		}
	}
	if len(s.finish) != n {
		t.Errorf("%d choices finished; want %d:\n%s", len(s.finish), n, raw)
	}
	return s
}

// usageOf is an answer's usage.
func usageOf(v chatResponse) completionUsage {
	var u completionUsage
	b, _ := json.Marshal(v.Usage)
	json.Unmarshal(b, &u)
	return u
}

// greedyChat is the greedy generation after a conversation, from an empty
// cache: the prompt's and the reply's token counts (the end-of-text token
// included, as generated).
func greedyChat(t *testing.T, dir string, msgs []tokenizer.Message, maxNew int) (prompt, reply int) {
	t.Helper()
	_, _, ids, out := greedyRun(t, dir, msgs, maxNew)
	return len(ids), len(out)
}

// TestServeChat: OpenAI's chat completions request gets OpenAI's answer,
// whose greedy reply is the model's greedy continuation of the
// conversation through its chat template (encodeChat, generate.Text),
// decoded without its special tokens, up to the end-of-text token; the
// same streamed, and n choices as separate requests with seeds seed+c.
func TestServeChat(t *testing.T) {
	dir, _ := chatFolder(t)
	ts := serveDir(t, dir)
	conv := []tokenizer.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "how are you"}}
	want := chatReply(t, dir, conv, 256)
	promptTokens, replyTokens := greedyChat(t, dir, conv, 256)
	if want == "" || replyTokens > 100 {
		t.Fatalf("the greedy reply %q (%d tokens) is empty or does not end: the test would check little", want, replyTokens)
	}
	t.Logf("greedy reply: %q, %d + %d tokens", want, promptTokens, replyTokens)
	messages := `[{"role": "system", "content": "be brief"}, {"role": "user", "content": "how are you"}]`

	code, v, raw := chatPost(t, ts.URL, `{"model": "tiny", "messages": `+messages+`, "temperature": 0}`)
	if code != http.StatusOK || v.Object != "chat.completion" || v.Model != "tiny" || !strings.HasPrefix(v.ID, "chatcmpl-") || v.Created == 0 || len(v.Choices) != 1 {
		t.Fatalf("chat completion: status %d, %s", code, raw)
	}
	if c := v.Choices[0]; c.Message == nil || c.Message.Role != "assistant" || c.Message.text() != want || *c.FinishReason != "stop" || c.Index != 0 ||
		!strings.Contains(raw, `"logprobs":null`) || !strings.Contains(raw, `"refusal":null`) {
		t.Errorf("choice %s; want the assistant's %q, finish_reason stop", raw, want)
	}
	u := usageOf(v)
	if u.PromptTokens != promptTokens || u.CompletionTokens != replyTokens || u.TotalTokens != promptTokens+replyTokens {
		t.Errorf("usage %+v; want %d + %d", u, promptTokens, replyTokens)
	}

	// Cut by max_tokens (or max_completion_tokens): the reply's start.
	short := chatReply(t, dir, conv, 3)
	for _, field := range []string{"max_tokens", "max_completion_tokens"} {
		_, v, raw = chatPost(t, ts.URL, `{"model": "m", "messages": `+messages+`, "temperature": 0, "`+field+`": 3}`)
		if len(v.Choices) != 1 || v.Choices[0].Message.text() != short || *v.Choices[0].FinishReason != "length" || !strings.Contains(raw, `"completion_tokens":3`) {
			t.Errorf("%s 3: %s; want %q, finish_reason length, 3 tokens", field, raw, short)
		}
	}

	// The same conversation said otherwise: developer is system, content
	// a list of text parts; name is ignored, as is an assistant's refusal
	// null.
	for _, m := range []string{
		`[{"role": "developer", "content": "be brief"}, {"role": "user", "content": "how are you"}]`,
		`[{"role": "system", "content": [{"type": "text", "text": "be brief"}]}, {"role": "user", "name": "ann", "content": [{"type": "text", "text": "how are you"}]}]`,
	} {
		_, v, raw = chatPost(t, ts.URL, `{"model": "m", "messages": `+m+`, "temperature": 0, "tools": [], "tool_choice": "none", "response_format": {"type": "text"}, "logprobs": false, "modalities": ["text"], "user": "u1"}`)
		if len(v.Choices) != 1 || v.Choices[0].Message.text() != want {
			t.Errorf("messages %s: %s; want %q", m, raw, want)
		}
	}
	conv2 := append(conv, tokenizer.Message{Role: "assistant", Content: "fine"}, tokenizer.Message{Role: "user", Content: "and you"})
	_, v, raw = chatPost(t, ts.URL, `{"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "how are you"},
		{"role": "assistant", "content": "fine", "refusal": null}, {"role": "user", "content": "and you"}], "temperature": 0, "max_tokens": 12}`)
	if want := chatReply(t, dir, conv2, 12); len(v.Choices) != 1 || v.Choices[0].Message.text() != want {
		t.Errorf("four turns: %s; want %q", raw, want)
	}

	// A stop string cuts the reply before it.
	stop := want[2:4]
	_, v, raw = chatPost(t, ts.URL, fmt.Sprintf(`{"model": "m", "messages": %s, "temperature": 0, "stop": [%q]}`, messages, stop))
	if len(v.Choices) != 1 || v.Choices[0].Message.text() != want[:strings.Index(want, stop)] || *v.Choices[0].FinishReason != "stop" {
		t.Errorf("stop %q: %s; want %q", stop, raw, want[:strings.Index(want, stop)])
	}

	// Streamed: the deltas make up the same reply, and the usage.
	_, _, raw = chatPost(t, ts.URL, `{"model": "m", "messages": `+messages+`, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}`)
	s := readChatStream(t, raw, 1, true)
	if s.texts[0] != want || s.finish[0] != "stop" || *s.usage != u {
		t.Errorf("streamed: %q, %q, usage %+v; want %q, stop, %+v", s.texts[0], s.finish[0], s.usage, want, u)
	}

	// n choices with seed s: each as a request with seed s+c, alone.
	sampled := `{"model": "m", "messages": ` + messages + `, "max_tokens": 24, "seed": %d%s}`
	_, v, raw = chatPost(t, ts.URL, fmt.Sprintf(sampled, 5, `, "n": 3`))
	if len(v.Choices) != 3 {
		t.Fatalf("n 3: %s", raw)
	}
	_, _, streamed := chatPost(t, ts.URL, fmt.Sprintf(sampled, 5, `, "n": 3, "stream": true`))
	s = readChatStream(t, streamed, 3, false)
	texts := map[string]bool{}
	completion := 0
	for c, got := range v.Choices {
		_, alone, raw := chatPost(t, ts.URL, fmt.Sprintf(sampled, 5+c, ""))
		if len(alone.Choices) != 1 || got.Index != c || got.Message.text() != alone.Choices[0].Message.text() || *got.FinishReason != *alone.Choices[0].FinishReason {
			t.Errorf("choice %d: %+v; want the reply with seed %d: %s", c, got.Message, 5+c, raw)
		}
		if s.texts[c] != got.Message.text() || s.finish[c] != *got.FinishReason {
			t.Errorf("streamed choice %d: %q, %q; want %q, %q", c, s.texts[c], s.finish[c], got.Message.text(), *got.FinishReason)
		}
		texts[got.Message.text()] = true
		completion += usageOf(alone).CompletionTokens
	}
	if len(texts) < 2 {
		t.Errorf("three seeds gave one reply %q: the test would not tell them apart", v.Choices[0].Message.text())
	}
	if u := usageOf(v); u.PromptTokens != promptTokens || u.CompletionTokens != completion {
		t.Errorf("n 3: usage %+v; want the prompt counted once, %d tokens, and the choices' %d", u, promptTokens, completion)
	}
}

// TestServeChatSignedSeed: a negative seed, which OpenAI's API takes (its
// seeds are 64-bit signed), is a seed like another: seed -1's second
// choice is seed 0's reply (it had been a 400 naming a Go type).
func TestServeChatSignedSeed(t *testing.T) {
	dir, _ := chatFolder(t)
	ts := serveDir(t, dir)
	req := `{"model": "m", "messages": [{"role": "user", "content": "how are you"}], "max_tokens": 24, "seed": %d, "n": %d}`
	code, v, raw := chatPost(t, ts.URL, fmt.Sprintf(req, -1, 2))
	if code != http.StatusOK || len(v.Choices) != 2 {
		t.Fatalf("seed -1: status %d, %s", code, raw)
	}
	_, zero, raw := chatPost(t, ts.URL, fmt.Sprintf(req, 0, 1))
	if len(zero.Choices) != 1 || v.Choices[1].Message.text() != zero.Choices[0].Message.text() {
		t.Errorf("seed -1, choice 1: %q; want seed 0's: %s", v.Choices[1].Message.text(), raw)
	}
}

// TestServeChatBookkeeping: the fields OpenAI's clients send for their own
// bookkeeping (user, metadata, service_tier, parallel_tool_calls,
// prompt_cache_key, safety_identifier, store false) are taken and change
// nothing; "store": true, which asks for a kept completion, is refused.
func TestServeChatBookkeeping(t *testing.T) {
	dir, _ := chatFolder(t)
	ts := serveDir(t, dir)
	plain := `{"model": "m", "messages": [{"role": "user", "content": "how are you"}], "max_tokens": 12, "temperature": 0`
	_, want, raw := chatPost(t, ts.URL, plain+`}`)
	if len(want.Choices) != 1 {
		t.Fatalf("no reply: %s", raw)
	}
	code, got, raw := chatPost(t, ts.URL, plain+`, "user": "u1", "metadata": {"k": "v"}, "service_tier": "auto", "parallel_tool_calls": true,
		"prompt_cache_key": "c", "safety_identifier": "s", "store": false}`)
	if code != http.StatusOK || len(got.Choices) != 1 || got.Choices[0].Message.text() != want.Choices[0].Message.text() {
		t.Errorf("with bookkeeping fields: status %d, %s; want the plain request's reply", code, raw)
	}
	if code, _, raw := chatPost(t, ts.URL, plain+`, "store": true}`); code != http.StatusBadRequest || !strings.Contains(raw, `store\": true is not supported`) {
		t.Errorf(`"store": true: status %d, %s; want a 400 naming it`, code, raw)
	}
}

// TestServeChatClosed: once the batcher has stopped, a chat completion is
// a 503, as /v1/generate's request and /healthz are (it was a 500).
func TestServeChatClosed(t *testing.T) {
	dir, _ := chatFolder(t)
	s, err := newServer(dir, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler())
	defer ts.Close()
	s.close()
	for _, stream := range []string{"false", "true"} {
		code, _, raw := chatPost(t, ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": `+stream+`}`)
		if code != http.StatusServiceUnavailable && stream == "false" || !strings.Contains(raw, "closed") {
			t.Errorf("stream %s: status %d, %s; want 503 (or an error event) saying the batcher is closed", stream, code, raw)
		}
	}
	if code, v := post(t, ts.URL+"/v1/generate", `{"prompt": "hi"}`); code != http.StatusServiceUnavailable {
		t.Errorf("/v1/generate: %d %v; want 503", code, v)
	}
}

// TestServeChatRefused: what a chat request cannot have is a 400 in
// OpenAI's shape naming it: bad roles and contents, the fields attn serve
// does not honour, a conversation the template refuses, one longer than
// the context.
func TestServeChatRefused(t *testing.T) {
	dir, _ := chatFolder(t)
	// The same ChatML, refusing roles that do not alternate, as Llama 2's
	// and Mistral's templates do (chat_template.jinja comes first).
	strict := `{%- for message in messages %}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}` +
		`{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}{%- endfor %}` + chatTemplate
	strictDir, _ := chatFolder(t)
	os.WriteFile(filepath.Join(strictDir, "chat_template.jinja"), []byte(strict), 0o644)
	ts, strictTS := serveDir(t, dir), serveDir(t, strictDir)

	m, tok, err := loadLlama(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := openChat(dir)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word ", 50)
	ids, err := encodeChat(tmpl, tok, []tokenizer.Message{{Role: "user", Content: long}})
	if err != nil || len(ids) <= m.Window() {
		t.Fatalf("a long turn: %d tokens, %v; want more than the context's %d", len(ids), err, m.Window())
	}
	fits := strings.Repeat("word ", 40)
	fitting, err := encodeChat(tmpl, tok, []tokenizer.Message{{Role: "user", Content: fits}})
	if err != nil || len(fitting) >= m.Window() {
		t.Fatalf("a shorter turn: %d tokens, %v; want fewer than %d", len(fitting), err, m.Window())
	}

	user := `[{"role": "user", "content": "hi"}]`
	for _, tc := range []struct{ url, body, says string }{
		{ts.URL, `{"model": "m"}`, `"messages" is missing`},
		{ts.URL, `{"model": "m", "messages": []}`, `"messages" is missing or empty`},
		{ts.URL, `{"model": "m", "messages": [{"role": "tool", "content": "4"}]}`, `a tool's message needs "tool_call_id"`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi", "tool_call_id": "c"}]}`, `"tool_call_id" is a tool's message's`},
		{ts.URL, `{"model": "m", "messages": [{"role": "function", "content": "hi"}]}`, `role "function" is not supported (use tools)`},
		{ts.URL, `{"model": "m", "messages": [{"role": "function", "name": "f", "content": "4"}]}`, `role "function" is not supported`},
		{ts.URL, `{"model": "m", "messages": [{"role": "robot", "content": "hi"}]}`, `"messages" 0: role "robot"; want system, developer, user, assistant or tool`},
		{ts.URL, `{"model": "m", "messages": [{"content": "hi"}]}`, `"role" is missing`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user"}]}`, `"messages" 0: "content" is missing`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, `type "image_url"; only "text" parts`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": 3}]}`, `"content" must be a string or a list of parts`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1"}]}]}`, `"messages" 1: "tool_calls" 0: want a function call with a name`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "x=1"}}]}]}`, `"arguments" must be a JSON object, as a string`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}`, `"tool_calls" are an assistant's`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "tools": [{"type": "function", "function": {"name": "f"}}]}`, `this model's chat template writes no tool calls attn reads back`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "tool_choice": "auto"}`, `"tool_choice" without "tools"`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "tool_choice": "required"}`, `a call cannot be forced`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "tool_choice": {"type": "function", "function": {"name": "f"}}}`, `a call cannot be forced`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "functions": [{"name": "f"}]}`, `"functions" are not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "response_format": {"type": "json_object"}}`, `"response_format" {"type": "json_object"} is not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "logprobs": true}`, `"logprobs" and "top_logprobs" are not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "top_logprobs": 2}`, `"logprobs" and "top_logprobs" are not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "logit_bias": {"5": 1}}`, `"logit_bias" is not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "frequency_penalty": 0.5}`, `"frequency_penalty" are not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "audio": {"voice": "alloy"}}`, `"audio" is not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "modalities": ["text", "audio"]}`, `"modalities" "audio" is not supported`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "stream_options": {"include_usage": true}}`, `"stream_options" is for "stream": true`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "n": 17}`, `"n" is 17; want 1 to 16`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "temperature": 3}`, `"temperature" is 3`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "max_completion_tokens": 0}`, `"max_completion_tokens" is 0; want 1 to 4096`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "max_tokens": 5, "max_completion_tokens": 6}`, `"max_tokens" is 5 and "max_completion_tokens" 6; give one`},
		{ts.URL, `{"model": "m", "messages": ` + user + `, "frobnicate": 1}`, `unknown field "frobnicate"`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi", "cache": true}]}`, `unknown field "cache"`},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi, you"}]}`, `cannot encode character ','`},
		{strictTS.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "hi"}]}`, "Conversation roles must alternate user/assistant"},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "` + long + `"}]}`, fmt.Sprintf("the conversation is %d tokens with the chat template; the model's context is %d tokens", len(ids), m.Window())},
		{ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "` + fits + `"}], "max_tokens": 100}`, fmt.Sprintf(`the conversation is %d tokens with the chat template and "max_tokens" is 100: %d in all, over the model's context of %d tokens`, len(fitting), len(fitting)+100, m.Window())},
	} {
		code, _, raw := chatPost(t, tc.url, tc.body)
		var e struct {
			Error struct{ Message, Type string }
		}
		json.Unmarshal([]byte(raw), &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error.Message, tc.says) || e.Error.Type != "invalid_request_error" {
			t.Errorf("%s: status %d, %s; want 400 with an OpenAI error naming %q", tc.body, code, raw, tc.says)
		}
	}
	// The strict template takes what alternates; the fitting turn gets
	// what the context leaves by default.
	if code, _, raw := chatPost(t, strictTS.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}`); code != http.StatusOK {
		t.Errorf("the strict template, one user turn: status %d, %s", code, raw)
	}
	if code, _, raw := chatPost(t, ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "`+fits+`"}], "seed": 3}`); code != http.StatusOK {
		t.Errorf("a turn that fits: status %d, %s", code, raw)
	}
}

// TestServeChatNoTemplate: a base model's folder serves completions, and
// answers chat completions as OpenAI answers a model that does not chat: a
// 404 saying it has no chat template; a model that is no language model
// answers 404 too.
func TestServeChatNoTemplate(t *testing.T) {
	base, _ := llamaFolder(t, "llama-tiny")
	ts := serveDir(t, base)
	code, _, raw := chatPost(t, ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}]}`)
	if !strings.Contains(raw, "has no chat template") || !strings.Contains(raw, "invalid_request_error") || code != http.StatusNotFound {
		t.Errorf("a base model: status %d, %s; want 404 saying it has no chat template", code, raw)
	}
	if code, v := post(t, ts.URL+"/v1/completions", `{"prompt": "the cat", "max_tokens": 3}`); code != http.StatusOK {
		t.Errorf("completions on a base model: status %d, %v", code, v)
	}
	code, _, raw = chatPost(t, serveDir(t, t5Folder(t)).URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}]}`)
	if code != http.StatusNotFound || !strings.Contains(raw, "for language models with a chat template") {
		t.Errorf("a T5: status %d, %s", code, raw)
	}
}

// TestServeChatMetrics: /metrics counts chat completions under their path.
func TestServeChatMetrics(t *testing.T) {
	dir, _ := chatFolder(t)
	s, err := newServer(dir, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ts := httptest.NewServer(logRequests(s.handler(), io.Discard, s.metrics))
	defer ts.Close()
	chatPost(t, ts.URL, `{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}`)
	chatPost(t, ts.URL, `{"model": "m", "messages": []}`)
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`attn_requests_total{path="/v1/chat/completions",code="200"} 1`, `attn_requests_total{path="/v1/chat/completions",code="400"} 1`} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
}

// TestWriteChatFolder writes chatFolder's model to $ATTN_CHAT_FOLDER, for
// tools/openai/chat.mjs to run OpenAI's client against (with
// $ATTN_CHAT_TOOLS set, its template writes tool calls, for
// tools/openai/tools.mjs; with $ATTN_CHAT_THINK, <think> blocks, for
// tools/openai/reasoning.mjs); skipped without.
func TestWriteChatFolder(t *testing.T) {
	out := os.Getenv("ATTN_CHAT_FOLDER")
	if out == "" {
		t.Skip("ATTN_CHAT_FOLDER is not set")
	}
	dir, pieces := chatFolder(t)
	if os.Getenv("ATTN_CHAT_THINK") != "" { // a reasoning model's template and tags
		setChatTemplate(t, dir, thinkTemplate)
		setTokens(t, dir, pieces, map[int]tokenEdit{96: {"</think>", true, false}, 97: {"<think>", true, false}})
	}
	if os.Getenv("ATTN_CHAT_TOOLS") != "" { // the template that writes Hermes tool calls
		setChatTemplate(t, dir, toolTemplate)
	}
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

// TestServeChatReusesTurns: a chat client's next turn, which sends the
// whole conversation again, goes on from the cache of the last answer (the
// batcher's ReusePrefixes), and still gets the reply computed from an
// empty cache; with a Llama, and with a Gemma 3 whose local layers see
// only the last four positions.
func TestServeChatReusesTurns(t *testing.T) {
	for _, name := range []string{"llama-tiny", "gemma3-tiny"} { // Gemma's local layers: a window of 4
		t.Run(name, func(t *testing.T) { serveChatReusesTurns(t, name) })
	}
}

func serveChatReusesTurns(t *testing.T, name string) {
	dir, _ := chatFolderOf(t, name)
	for _, reuse := range []bool{true, false} {
		var opts []generate.BatcherOption
		if reuse {
			opts = append(opts, generate.ReusePrefixes(reuseMin))
		}
		s, err := newServer(dir, 8, 0, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.handler())
		conv := []tokenizer.Message{{Role: "system", Content: "answer in a few words please"}, {Role: "user", Content: "tell me about the weather today"}}
		body := func(conv []tokenizer.Message) string {
			b, _ := json.Marshal(map[string]any{"messages": conv, "temperature": 0, "max_tokens": 12})
			return string(b)
		}
		_, v, raw := chatPost(t, ts.URL, body(conv))
		if len(v.Choices) != 1 || v.Choices[0].Message.text() != chatReply(t, dir, conv, 12) {
			t.Fatalf("first turn: %s", raw)
		}
		conv = append(conv, tokenizer.Message{Role: "assistant", Content: v.Choices[0].Message.text()}, tokenizer.Message{Role: "user", Content: "and tomorrow"})
		_, v, raw = chatPost(t, ts.URL, body(conv))
		if want := chatReply(t, dir, conv, 12); len(v.Choices) != 1 || v.Choices[0].Message.text() != want {
			t.Errorf("second turn (reuse %v): %s; want %q", reuse, raw, want)
		}
		first, _ := greedyChat(t, dir, conv[:2], 12)
		if reused := s.batcher.Stats().Reused; reuse && reused < int64(first) || !reuse && reused != 0 {
			t.Errorf("reuse %v: the second turn reused %d positions of the first's cache; the first turn had %d", reuse, reused, first)
		}
		ts.Close()
		s.close()
	}
}

// TestServeChatContextFlag: a conversation longer than --context, which
// the model itself would hold, is refused naming --context, not as over
// the model's context.
func TestServeChatContextFlag(t *testing.T) {
	dir, _ := chatFolder(t) // a context of 256
	s, err := newServer(dir, 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ts := httptest.NewServer(s.handler())
	defer ts.Close()
	turn := strings.Repeat("word ", 20)
	for _, body := range []string{
		`{"messages": [{"role": "user", "content": "` + turn + turn + `"}]}`,
		`{"messages": [{"role": "user", "content": "word word word"}], "max_tokens": 100}`,
	} {
		code, _, raw := chatPost(t, ts.URL, body)
		if code != http.StatusBadRequest || !strings.Contains(raw, "--context 64") || strings.Contains(raw, "model's context") {
			t.Errorf("%s: status %d, %s; want a 400 naming --context 64", body, code, raw)
		}
	}
}

// TestServeModels: OpenAI's model list names the one model served, by its
// folder's name, and so does the model itself; another name is 404 in
// OpenAI's shape.
func TestServeModels(t *testing.T) {
	dir, _ := chatFolder(t)
	ts := serveDir(t, dir)
	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	name := filepath.Base(dir)
	code, list := get("/v1/models")
	data, _ := list["data"].([]any)
	if code != 200 || list["object"] != "list" || len(data) != 1 || data[0].(map[string]any)["id"] != name || data[0].(map[string]any)["object"] != "model" {
		t.Errorf("GET /v1/models: %d %v; want a list of the model %q", code, list, name)
	}
	if code, m := get("/v1/models/" + name); code != 200 || m["id"] != name || m["owned_by"] != "attn" || m["created"].(float64) < 1e9 {
		t.Errorf("GET /v1/models/%s: %d %v", name, code, m)
	}
	if code, m := get("/v1/models/gpt-4"); code != 404 || !strings.Contains(fmt.Sprint(m["error"]), `"gpt-4" does not exist`) {
		t.Errorf("GET /v1/models/gpt-4: %d %v", code, m)
	}
	// /v1/model tells the page at / whether to offer a conversation.
	if _, m := get("/v1/model"); m["chat"] != true {
		t.Errorf("GET /v1/model of a chat model: %v; want chat true", m)
	}
	base, _ := llamaFolder(t, "llama-tiny")
	ts = serveDir(t, base)
	if _, m := get("/v1/model"); m["chat"] != false {
		t.Errorf("GET /v1/model of a base model: %v; want chat false", m)
	}
}

// text returns the message's content, "" for null.
func (m *chatMessageOut) text() string {
	if m == nil || m.Content == nil {
		return ""
	}
	return *m.Content
}
