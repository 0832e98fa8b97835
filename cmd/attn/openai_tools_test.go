package main

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// toolTemplate is chatTemplate with tools, tool calls and tool responses
// written in letters only (the test tokenizer's vocabulary); the comment
// marks it as writing Hermes <tool_call> blocks.
const toolTemplate = `{# <tool_call> #}{%- if tools %}{{- '<|im_start|>system tools' }}{%- for tool in tools %}{{- ' ' + tool.function.name }}{%- endfor %}{{- '<|im_end|>' }}{%- endif %}` +
	`{%- for message in messages %}{%- if message.role == 'assistant' and message.tool_calls %}{{- '<|im_start|>assistant call' }}` +
	`{%- for call in message.tool_calls %}{{- ' ' + call.function.name + ' ' + call.function.arguments.city }}{%- endfor %}{{- '<|im_end|>' }}` +
	`{%- else %}{{- '<|im_start|>' + message.role + ' ' + message.content + '<|im_end|>' }}{%- endif %}{%- endfor %}` +
	`{%- if add_generation_prompt %}{{- '<|im_start|>assistant ' }}{%- endif %}`

// TestServeChatTools: with a template that writes tool calls, a request's
// tools reach the prompt (its tokens grow by theirs; tool_choice "none"
// leaves them out), a conversation sent back with an assistant's tool
// calls and the tools' answers renders, and a reply that calls no tool is
// text, whole or streamed; a tool without a name is refused.
func TestServeChatTools(t *testing.T) {
	// Marked as writing Hermes blocks, Llama 3.1's JSON calls, Mistral's.
	for _, tmpl := range []string{toolTemplate, strings.Replace(toolTemplate, "<tool_call>", `"parameters": tool_calls`, 1), strings.Replace(toolTemplate, "<tool_call>", "[TOOL_CALLS]", 1)} {
		serveChatTools(t, tmpl)
	}
}

func serveChatTools(t *testing.T, tmpl string) {
	dir, _ := chatFolder(t)
	setChatTemplate(t, dir, tmpl)
	ts := serveDir(t, dir)
	conv := `[{"role": "user", "content": "weather in bern"},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"bern\"}"}}]},
		{"role": "tool", "tool_call_id": "c", "content": "sunny"}]`
	tools := `[{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}, {"type": "function", "function": {"name": "time"}}]`
	usage := func(body string) (int, chatResponse, string) {
		t.Helper()
		code, v, raw := chatPost(t, ts.URL, body)
		if code != http.StatusOK || len(v.Choices) != 1 {
			t.Fatalf("status %d, %s", code, raw)
		}
		var u struct{ Usage completionUsage }
		json.Unmarshal([]byte(raw), &u)
		return u.Usage.PromptTokens, v, raw
	}
	base := `{"model": "m", "messages": ` + conv + `, "max_tokens": 6, "temperature": 0`
	plain, _, _ := usage(base + `}`)
	with, v, raw := usage(base + `, "tools": ` + tools + `}`)
	none, _, _ := usage(base + `, "tools": ` + tools + `, "tool_choice": "none"}`)
	if with <= plain || none != plain {
		t.Errorf("prompt tokens: %d with tools, %d without, %d with tool_choice none; want more with, the same with none", with, plain, none)
	}
	if c := v.Choices[0]; c.Message.Content == nil || len(c.Message.ToolCalls) != 0 || *c.FinishReason == "tool_calls" {
		t.Errorf("a reply without calls: %s; want text", raw)
	}
	code, _, raw := chatPost(t, ts.URL, base+`, "tools": `+tools+`, "stream": true}`)
	if code != http.StatusOK || !strings.Contains(raw, "[DONE]") || strings.Contains(raw, "tool_calls") {
		t.Errorf("streamed: status %d, %s", code, raw)
	}
	var streamed string
	for _, line := range strings.Split(raw, "\n") {
		var c chatResponse
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c) == nil && len(c.Choices) == 1 && c.Choices[0].Delta != nil && c.Choices[0].Delta.Content != nil {
			streamed += *c.Choices[0].Delta.Content
		}
	}
	if streamed != v.Choices[0].Message.text() {
		t.Errorf("streamed text %q; want the whole reply's %q", streamed, v.Choices[0].Message.text())
	}
	if code, _, raw := chatPost(t, ts.URL, base+`, "tools": [{"type": "function", "function": {}}]}`); code != http.StatusBadRequest || !strings.Contains(raw, `\"tools\" 0: want`) {
		t.Errorf("a tool without a name: status %d, %s", code, raw)
	}
}

// TestReplyMessage: a whole reply's Hermes blocks become OpenAI tool calls
// (ids of their own, arguments as compact JSON text, finish_reason
// "tool_calls", content null unless text came first); without tools, or
// without blocks, the reply is text; with parallel_tool_calls false
// (oneCall) only the first call is kept.
func TestReplyMessage(t *testing.T) {
	stop := ptr("stop")
	reply := "Checking.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Bern\", \"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"time\", \"arguments\": {}}\n</tool_call>"
	msg, finish := replyMessage(reply, stop, "hermes", false)
	if msg.Content == nil || *msg.Content != "Checking." || *finish != "tool_calls" || len(msg.ToolCalls) != 2 {
		t.Fatalf("%+v, %v", msg, *finish)
	}
	c := msg.ToolCalls[0]
	if !strings.HasPrefix(c.ID, "call_") || c.Type != "function" || c.Function.Name != "weather" || c.Function.Arguments != `{"city":"Bern","days":[1,2]}` || c.Index != nil || c.ID == msg.ToolCalls[1].ID {
		t.Errorf("the first call: %+v", c)
	}
	if msg, _ := replyMessage(reply[len("Checking.\n"):], stop, "hermes", false); msg.Content != nil {
		t.Errorf("calls alone: content %q; want null", *msg.Content)
	}
	if msg, finish := replyMessage(reply, stop, "hermes", true); len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "weather" || *finish != "tool_calls" {
		t.Errorf("parallel_tool_calls false: %+v, %v; want the first call alone", msg, *finish)
	}
	for _, tc := range []struct {
		text, format string
	}{{reply, ""}, {"no calls", "hermes"}, {"<tool_call>\n{\"name\": \"f\", \"arguments\": \"x\"}\n</tool_call>", "hermes"}, {reply, "json"}, {`{"name": "f"} then text`, "json"}} {
		msg, finish := replyMessage(tc.text, stop, tc.format, false)
		if msg.Content == nil || *msg.Content != tc.text || len(msg.ToolCalls) != 0 || finish != stop {
			t.Errorf("%q (format %q): %+v; want the text", tc.text, tc.format, msg)
		}
	}
	msg, finish = replyMessage(` {"name": "weather", "parameters": {"city": "Bern"}}`, stop, "json", false)
	if msg.Content != nil || *finish != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Arguments != `{"city":"Bern"}` {
		t.Errorf("a Llama 3.1-style call: %+v, %v", msg, *finish)
	}
	// Mistral's template refuses ids other than 9 letters and digits.
	msg, finish = replyMessage(`[TOOL_CALLS] [{"name": "weather", "arguments": {"city": "Bern"}}, {"name": "time", "arguments": {}}]`, stop, "mistral", false)
	if msg.Content != nil || *finish != "tool_calls" || len(msg.ToolCalls) != 2 {
		t.Fatalf("Mistral calls: %+v, %v", msg, *finish)
	}
	for _, c := range msg.ToolCalls {
		if len(c.ID) != 9 || strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			t.Errorf("a Mistral call's id %q; want 9 letters and digits", c.ID)
		}
	}
}

// TestToolStreams: a streamed reply's text goes out as it comes until a
// <tool_call> may begin (or, in the json format, as soon as its first
// characters show it is no call); the calls go out at the end with finish_reason
// "tool_calls" (indexed, as a stream's deltas are); text that only looked
// like the start of a block, or a block that is not a call, goes out as
// text with the reply's own finish_reason; with parallel_tool_calls false
// (oneCall) only the first call goes out.
func TestToolStreams(t *testing.T) {
	stop := ptr("stop")
	for _, tc := range []struct {
		pieces  []string
		oneCall bool
		text    string // what went out as text
		calls   string // the calls' names and arguments
		finish  string
		format  string // "" for hermes
	}{
		{[]string{" ", "{\"name\": \"f\", ", "\"parameters\": {\"a\": 1}}"}, false, "", `f {"a":1}`, "tool_calls", "json"},
		{[]string{"<|pyth", "on_tag|>{\"name\": \"g\"}"}, false, "", "g {}", "tool_calls", "json"},
		{[]string{" ", "It is {warm}."}, false, " It is {warm}.", "", "stop", "json"},
		{[]string{"{not a call"}, false, "{not a call", "", "stop", "json"},
		{[]string{"ok [TOOL_", "CALLS] [{\"name\": \"f\", \"arguments\": {}}]"}, false, "ok ", "f {}", "tool_calls", "mistral"},
		{[]string{"a [TOOL", " box]"}, false, "a [TOOL box]", "", "stop", "mistral"},
		{[]string{"Hi <to", "ol_call>\n{\"name\": \"f\",", " \"arguments\": {\"a\": 1}}\n</tool_call>"}, false, "Hi ", `f {"a":1}`, "tool_calls", ""},
		{[]string{"a <tool", "box> b"}, false, "a <toolbox> b", "", "stop", ""},
		{[]string{"<tool_call>oops</tool_call>"}, false, "<tool_call>oops</tool_call>", "", "stop", ""},
		{[]string{"ends with <tool_"}, false, "ends with <tool_", "", "stop", ""},
		{[]string{"<tool_call>{\"name\": \"f\"}</tool_call><tool_call>{\"name\": \"g\"}</tool_call>"}, true, "", "f {}", "tool_calls", ""},
	} {
		var text, calls, finish string
		chunk := toolStreams(2, cmp.Or(tc.format, "hermes"), tc.oneCall, func(i int, s string, f *string) {
			text += s
			if f != nil {
				finish = *f
			}
		}, func(i int, out []toolCallOut, f *string) {
			for j, c := range out {
				if c.Index == nil || *c.Index != j || !strings.HasPrefix(c.ID, "call_") && len(c.ID) != 9 {
					t.Errorf("call %d: %+v; want its index and an id", j, c)
				}
				calls += c.Function.Name + " " + c.Function.Arguments
			}
			finish = *f
		})
		for _, p := range tc.pieces {
			chunk(1, p, nil)
		}
		chunk(1, "", stop)
		if text != tc.text || calls != tc.calls || finish != tc.finish {
			t.Errorf("%q: text %q, calls %q, finish %q; want %q, %q, %q", tc.pieces, text, calls, finish, tc.text, tc.calls, tc.finish)
		}
	}
}

// TestToolCallsIn: an assistant's calls sent back need arguments that are
// a JSON object as a string; "null" (which decodes to no map without an
// error) is refused by name as the other non-objects are.
func TestToolCallsIn(t *testing.T) {
	for _, args := range []string{`null`, `[1]`, `3`, ``} {
		raw, _ := json.Marshal([]map[string]any{{"id": "c", "type": "function", "function": map[string]any{"name": "f", "arguments": args}}})
		if _, err := toolCallsIn(raw); err == nil || !strings.Contains(err.Error(), `"arguments" must be a JSON object`) {
			t.Errorf("arguments %q: %v; want an error naming them", args, err)
		}
	}
	calls, err := toolCallsIn(json.RawMessage(`[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"b\": 1, \"a\": 2}"}}]`))
	if err != nil || len(calls) != 1 || string(calls[0].Arguments) != `{"b": 1, "a": 2}` {
		t.Errorf("%+v, %v; want the call, its arguments as sent", calls, err)
	}
}
