package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ardanlabs/jinja"
)

// TestChatTemplateGolden renders the templates of testdata/chat-templates.json
// (the shapes of ChatML, Llama 3, [INST], Zephyr, Gemma and Qwen3's
// reasoning formats, and one exercising filters and loop controls) with
// every conversation there (one passing the assistant's reasoning_content
// apart), with and without variables beside them (enable_thinking, through
// RenderWith), and compares the text, byte for byte, with
// Python's Jinja2 set up as transformers' apply_chat_template
// (tools/golden/jinja_chat.py); a conversation a template refuses must be
// refused with its message.
func TestChatTemplateGolden(t *testing.T) {
	var golden struct {
		Templates map[string]struct {
			Special map[string]any
			Source  string
		}
		Conversations map[string][]Message
		Cases         []struct {
			Template, Conversation string
			AddGenerationPrompt    bool `json:"add_generation_prompt"`
			Vars                   map[string]json.RawMessage
			Text                   *string
			Error                  string
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "chat-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) < 160 {
		t.Fatalf("%d cases; the file is damaged", len(golden.Cases))
	}
	compiled := map[string]*ChatTemplate{}
	for name, tmpl := range golden.Templates {
		cfg := map[string]json.RawMessage{}
		for k, v := range tmpl.Special {
			cfg[k], _ = json.Marshal(v)
		}
		special, err := specialTokens(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if compiled[name], err = parseChat(tmpl.Source, special, name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, c := range golden.Cases {
		got, err := compiled[c.Template].Render(golden.Conversations[c.Conversation], c.AddGenerationPrompt)
		if c.Vars != nil {
			got, err = compiled[c.Template].RenderWith(golden.Conversations[c.Conversation], nil, c.AddGenerationPrompt, c.Vars)
			c.Conversation += fmt.Sprintf(" with %s", c.Vars)
		}
		switch {
		case c.Text == nil && err == nil:
			t.Errorf("%s, %s: rendered %q; Jinja2 refused it: %s", c.Template, c.Conversation, got, c.Error)
		case c.Text == nil && !strings.Contains(err.Error(), c.Error):
			t.Errorf("%s, %s: error %q; want Jinja2's %q", c.Template, c.Conversation, err, c.Error)
		case c.Text != nil && err != nil:
			t.Errorf("%s, %s (generation prompt %v): %v", c.Template, c.Conversation, c.AddGenerationPrompt, err)
		case c.Text != nil && got != *c.Text:
			t.Errorf("%s, %s (generation prompt %v):\n got %q\nwant %q", c.Template, c.Conversation, c.AddGenerationPrompt, got, *c.Text)
		}
	}
}

// TestOpenChatTemplate: a folder's chat_template.jinja wins over its
// tokenizer_config.json, which wins over chat_template.json; a list of named templates gives "default"; special
// tokens stored as AddedToken objects are their content; a folder without a
// template, a list without "default" and a template that does not compile
// fail by name.
func TestOpenChatTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hello := []Message{{Role: "user", Content: "hi"}}
	render := func() (string, error) {
		c, err := OpenChatTemplate(dir)
		if err != nil {
			return "", err
		}
		return c.Render(hello, true)
	}
	if _, err := render(); !errors.Is(err, ErrNoChatTemplate) {
		t.Errorf("an empty folder: %v; want ErrNoChatTemplate", err)
	}
	write("chat_template.json", `{"chat_template": "{{ messages[0].content }}?"}`)
	if got, err := render(); err != nil || got != "hi?" {
		t.Errorf("a processor's chat_template.json: %q, %v", got, err)
	}
	write("tokenizer_config.json", `{"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
		"chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if pad_token is defined %}PAD{% endif %}{% if add_generation_prompt %}[assistant]{% endif %}"}`)
	if got, err := render(); err != nil || got != "<s>[user]hi</s>[assistant]" {
		t.Errorf("tokenizer_config.json's template: %q, %v", got, err)
	}
	write("tokenizer_config.json", `{"eos_token": "</s>", "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "{{ messages[0].content }}!"}]}`)
	if got, err := render(); err != nil || got != "hi!" {
		t.Errorf("named templates: %q, %v; want the default one", got, err)
	}
	write("tokenizer_config.json", `{"chat_template": [{"name": "tool_use", "template": "tools"}]}`)
	if _, err := render(); err == nil || !strings.Contains(err.Error(), `no template named "default"`) {
		t.Errorf("no default template: %v", err)
	}
	write("chat_template.jinja", "{{ messages|length }} message")
	if got, err := render(); err != nil || got != "1 message" {
		t.Errorf("chat_template.jinja: %q, %v; it is preferred", got, err)
	}
	write("chat_template.jinja", "{% for m in messages %}unclosed")
	if _, err := render(); err == nil || !strings.Contains(err.Error(), "chat_template.jinja") {
		t.Errorf("a template that does not compile: %v; want an error naming the file", err)
	}
	os.Remove(filepath.Join(dir, "chat_template.jinja"))
	write("tokenizer_config.json", `{"bos_token": 3, "chat_template": "x"}`)
	if _, err := render(); err == nil || !strings.Contains(err.Error(), "bos_token") {
		t.Errorf("a special token that is a number: %v", err)
	}
	write("tokenizer_config.json", `{"chat_template": "{{ raise_exception('no system role') }}"}`)
	if _, err := render(); err == nil || !strings.Contains(err.Error(), "no system role") {
		t.Errorf("raise_exception: %v; want its message", err)
	}
}

// TestChatTemplateAsTransformers: what Jinja2, set up as transformers'
// apply_chat_template sets it up, does beside the engine's syntax (the
// texts below are Jinja2 3.1.6's): it drops a template's last line break
// and reads \r\n and \r as \n (its lexer's keep_trailing_newline=False
// and newline_sequence), strips whitespace around tags as its lexer does,
// and the template sees tools and documents defined as None, which
// apply_chat_template always passes.
func TestChatTemplateAsTransformers(t *testing.T) {
	msgs := []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}
	for _, tc := range []struct{ src, want string }{
		{"{{ bos_token }}hi\n", "<s>hi"},
		{"x{{ eos_token }}\n\n", "x</s>\n"},
		{"{% if true %}x{% endif %}\n\n", "x"},
		{"{% for m in messages %}\r\n[{{ m.role }}]\r\n{% endfor %}\r\nend\r\n", "[user]\n[assistant]\nend"},
		{"a\rb{{ bos_token }}\r", "a\nb<s>"},
		{"\n", ""},
		{"{% if tools is defined %}D{% endif %}{% if tools is none %}N{% endif %}{% if tools is not none %}X{% endif %}{% if documents is none %}dN{% endif %}", "DNdN"},
		{"{% for t in tools or [] %}{{ t }}{% endfor %}{{ 'T' if tools else 'F' }}", "F"},
		// Whitespace control strips the text right next to the tag only,
		// never across an expression, a comment or another tag; raw blocks
		// and + markers as Jinja2 has them.
		{"{% for m in messages %}{{ m.role }}\n{% endfor %}", "user\nassistant\n"},
		{"{%- if true -%}a: {{ 'b' }}{%- endif -%}", "a: b"},
		{"a\n  {{ 'x' }}{% if true %}y{% endif %}", "a\n  xy"},
		{"{# c #}{{ 'x' }}\ny", "x\ny"},
		{"{% for m in messages -%}{{ m.role }} : {{ m.content }}\n{% endfor %}", "user : hi\nassistant : yo\n"},
		{"{% raw %}\n {{ x }} {%- if %}\n  {% endraw %}\nz", "\n {{ x }} {%- if %}\nz"},
		{"a  {%- raw -%}  b  {%- endraw -%}  c", "abc"},
		{"{% if true %}\n    {%+ if true %}x{% endif +%}\ny{% endif %}", "    x\ny"},
		{"{% if true %}\t\u00a0\u001c\n{{- 'x' -}}\u001f \n{% endif %}", "x"},
		{"  {% if true %}x{% endif %}  \n  {# c #}\n  y", "x  \n  y"},
		{"{{ 'q\\'s' }} it's \\ a {{ \"d\\\"q\" }}", "q's it's \\ a d\"q"},
	} {
		c, err := ParseChatTemplate(tc.src, map[string]string{"bos_token": "<s>", "eos_token": "</s>"})
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if got, err := c.Render(msgs, false); err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want Jinja2's %q", tc.src, got, err, tc.want)
		}
	}
}

// FuzzJinjaSource: the source handed to the engine is made of any text
// without a panic, and a text with no tags renders as itself (its line
// breaks as \n, the last dropped).
func FuzzJinjaSource(f *testing.F) {
	for _, s := range []string{"a\r\nb\n", "{%- raw %}x{% endraw -%}", "{{ 'a' }}\n{%+ if x -%} {# c #}", "{% raw %}", "{{ '}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out := jinjaSource(src)
		if strings.Contains(src, "{") {
			return
		}
		want := strings.TrimSuffix(strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n"), "\n")
		c, err := ParseChatTemplate(src, nil)
		if err != nil {
			t.Fatalf("%q (as %q): %v", src, out, err)
		}
		if got, err := c.Render(nil, false); err != nil || got != want {
			t.Fatalf("%q: %q, %v", src, got, err)
		}
	})
}

// TestChatTemplateWhitespace renders the 600 random templates of
// testdata/chat-templates.json (texts of spaces, tabs and line breaks
// between expressions, comments, if, for and raw blocks, each tag with or
// without its - and + markers; tools/golden/jinja_chat.py) and compares
// them with Jinja2's renderings under apply_chat_template's settings.
func TestChatTemplateWhitespace(t *testing.T) {
	var golden struct {
		Whitespace []struct{ Source, Text string }
	}
	b, err := os.ReadFile(filepath.Join("testdata", "chat-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Whitespace) < 500 {
		t.Fatalf("%d random templates; the file is damaged", len(golden.Whitespace))
	}
	msgs := []Message{{Role: "user", Content: "Hello!"}, {Role: "user", Content: "Hello!"}}
	failed := 0
	for _, g := range golden.Whitespace {
		c, err := ParseChatTemplate(g.Source, map[string]string{"bos_token": "<s>"})
		var got string
		if err == nil {
			got, err = c.Render(msgs, false)
		}
		if err != nil || got != g.Text {
			if failed++; failed <= 10 {
				t.Errorf("%q: %q, %v; want Jinja2's %q", g.Source, got, err, g.Text)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d random templates render otherwise than Jinja2", failed, len(golden.Whitespace))
	}
}

// TestSpecialTokensMap: a folder saved before transformers 4.34 (no
// added_tokens_decoder in tokenizer_config.json) has its special tokens in
// special_tokens_map.json too: they fill the config's gaps and win over
// its values (a null one unsets it), additional tokens are added to the
// config's; a folder with added_tokens_decoder keeps its config's.
func TestSpecialTokensMap(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const tmpl = `{{ bos_token }}|{{ eos_token }}|{% if pad_token is defined %}{{ pad_token }}{% else %}none{% endif %}|{{ additional_special_tokens|join(',') }}`
	write("special_tokens_map.json", `{"bos_token": {"content": "<s>", "lstrip": false, "normalized": false}, "eos_token": "<|end|>", "pad_token": null, "additional_special_tokens": ["<a>", "<b>"]}`)
	for _, tc := range []struct{ config, want string }{
		{`{"eos_token": "</s>", "pad_token": "<pad>", "additional_special_tokens": ["<b>", "<c>"]}`, "<s>|<|end|>|none|<b>,<c>,<a>"},
		{`{"eos_token": "</s>", "pad_token": "<pad>", "additional_special_tokens": ["<c>"], "added_tokens_decoder": {}}`, "|</s>|<pad>|<c>"},
	} {
		var cfg map[string]any
		if err := json.Unmarshal([]byte(tc.config), &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["chat_template"] = tmpl
		b, _ := json.Marshal(cfg)
		write("tokenizer_config.json", string(b))
		c, err := OpenChatTemplate(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Render(nil, false); err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.config, got, err, tc.want)
		}
	}
	write("special_tokens_map.json", `{"bos_token": 7}`)
	write("tokenizer_config.json", `{"chat_template": "x"}`)
	if _, err := OpenChatTemplate(dir); err == nil || !strings.Contains(err.Error(), "special_tokens_map.json") {
		t.Errorf("a special token that is a number: %v; want an error naming the file", err)
	}
}

// TestChatTemplateTools: a template in the shape of Qwen2.5's renders
// tools, tool calls (their arguments' keys in the order given, None,
// nested lists and booleans included) and tool responses byte for byte as
// Jinja2 does (tools/golden/jinja_chat.py), with and without tools; its
// tool-call format is read as hermes.
func TestChatTemplateTools(t *testing.T) {
	var golden struct {
		Hermes struct {
			Source        string
			Llama31       string
			Mistral       string
			Tools         []json.RawMessage
			Conversations map[string][]Message
			Cases         []struct {
				Template, Conversation string
				Tools                  bool
				AddGenerationPrompt    bool `json:"add_generation_prompt"`
				Text, Error            string
			}
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "chat-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	h := golden.Hermes
	if len(h.Cases) < 60 {
		t.Fatalf("%d cases; the file is damaged", len(h.Cases))
	}
	templates := map[string]*ChatTemplate{}
	for name, src := range map[string]string{"hermes": h.Source, "llama31": h.Llama31, "mistral": h.Mistral} {
		special := map[string]any{"bos_token": "<|begin_of_text|>", "eos_token": "</s>"}
		c, err := parseChat(src, special, name)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"hermes": "hermes", "llama31": "json", "mistral": "mistral"}[name]; c.ToolCallFormat() != want {
			t.Errorf("%s: tool-call format %q; want %q", name, c.ToolCallFormat(), want)
		}
		templates[name] = c
	}
	for _, tc := range h.Cases {
		var tools []json.RawMessage
		if tc.Tools {
			tools = h.Tools
		}
		got, err := templates[tc.Template].RenderTools(h.Conversations[tc.Conversation], tools, tc.AddGenerationPrompt)
		switch {
		case tc.Error != "" && (err == nil || !strings.Contains(err.Error(), tc.Error)):
			t.Errorf("%s, %s (tools %v): %v; want the error %q", tc.Template, tc.Conversation, tc.Tools, err, tc.Error)
		case tc.Error == "" && (err != nil || got != tc.Text):
			t.Errorf("%s, %s (tools %v, generation prompt %v): %v\ngot  %q\nwant %q", tc.Template, tc.Conversation, tc.Tools, tc.AddGenerationPrompt, err, got, tc.Text)
		}
	}
	c := templates["hermes"]
	if _, err := c.RenderTools([]Message{{Role: "assistant", ToolCalls: []ToolCall{{Name: "f", Arguments: json.RawMessage(`{"a": 1`)}}}}, nil, false); err == nil {
		t.Error("arguments that are not JSON: no error")
	}
	plain, _ := ParseChatTemplate("{{ messages[0].content }}", nil)
	if plain.ToolCallFormat() != "" {
		t.Errorf("a template without tool calls: format %q", plain.ToolCallFormat())
	}
}

// TestParseToolCalls: hermes blocks are read into calls (the text before
// them kept as the reply's text, a last block cut short by the end of the
// reply read too); a reply without blocks, or with a block that is not a
// named call with object arguments, or text between blocks, is text.
func TestParseToolCalls(t *testing.T) {
	for _, tc := range []struct {
		reply, content string
		calls          string // the calls as JSON; "" when not ok
	}{
		{"<tool_call>\n{\"name\": \"add\", \"arguments\": {\"b\": 40, \"a\": 2}}\n</tool_call>", "", `[{"name":"add","arguments":{"b":40,"a":2}}]`},
		{"Let me see.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>{\"name\": \"g\"}</tool_call>\n", "Let me see.", `[{"name":"f","arguments":{}},{"name":"g","arguments":{}}]`},
		{"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": [1]}}", "", `[{"name":"f","arguments":{"x":[1]}}]`},
		{"just text", "", ""},
		{"<tool_call>\n{\"name\": \"f\", \"arguments\": \"x=1\"}\n</tool_call>", "", ""},
		{"<tool_call>\nnot json\n</tool_call>", "", ""},
		{"<tool_call>{\"arguments\": {}}</tool_call>", "", ""},
		{"<tool_call>{\"name\": \"f\"}</tool_call> and then text", "", ""},
	} {
		content, calls, ok := ParseToolCalls(tc.reply)
		if !ok {
			if tc.calls != "" || content != tc.reply {
				t.Errorf("%q: not read (text %q); want calls %s", tc.reply, content, tc.calls)
			}
			continue
		}
		got, _ := json.Marshal(calls)
		if tc.calls == "" || content != tc.content || string(got) != tc.calls {
			t.Errorf("%q: text %q, calls %s; want %q, %s", tc.reply, content, got, tc.content, tc.calls)
		}
	}
}

// TestTojsonIndent: tojson with an indent writes as Python's json.dumps
// does (the keys in their order, non-ASCII and <, >, & as they are, floats
// as Python prints them, empty lists and objects), byte for byte Jinja2's
// on a template that writes tools, message fields and assorted values so
// (tools/golden/jinja_chat.py), where the engine's own filter sorts keys;
// and on a chain of filters before it, a literal, and the words as text.
func TestTojsonIndent(t *testing.T) {
	var golden struct {
		Indented struct {
			Source string
			Values json.RawMessage
			Cases  []struct{ Conversation, Text string }
		}
		Hermes struct {
			Tools         []json.RawMessage
			Conversations map[string][]Message
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "chat-templates.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Indented.Cases) < 3 {
		t.Fatalf("%d cases; the file is damaged", len(golden.Indented.Cases))
	}
	c, err := parseChat(golden.Indented.Source, nil, "indented")
	if err != nil {
		t.Fatal(err)
	}
	values, err := jsonValue(golden.Indented.Values)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range golden.Indented.Cases {
		got, err := c.render(golden.Hermes.Conversations[tc.Conversation], golden.Hermes.Tools, false, map[string]jinja.Value{"values": values})
		if err != nil || got != tc.Text {
			t.Errorf("%s: %v\ngot  %q\nwant %q", tc.Conversation, err, got, tc.Text)
		}
	}
}

// TestParseJSONToolCall: a reply that is one JSON object with a name and
// its parameters (or arguments), a <|python_tag|> before it allowed, is a
// call (null or no parameters, one without arguments); anything else is
// text.
func TestParseJSONToolCall(t *testing.T) {
	for _, tc := range []struct{ reply, calls string }{
		{`{"name": "get_weather", "parameters": {"city": "Bern"}}`, `[{"name":"get_weather","arguments":{"city":"Bern"}}]`},
		{" <|python_tag|>{\"name\": \"f\", \"arguments\": {\"a\": [1]}}\n", `[{"name":"f","arguments":{"a":[1]}}]`},
		{`{"name": "f"}`, `[{"name":"f","arguments":{}}]`},
		{`{"name": "f", "parameters": null}`, `[{"name":"f","arguments":{}}]`},
		{`{"name": "f", "parameters": null, "arguments": {"a": 1}}`, `[{"name":"f","arguments":{"a":1}}]`},
		{`The weather is fine.`, ""},
		{`{"name": "f", "parameters": {}} and more`, ""},
		{`{"name": "f", "parameters": "x"}`, ""},
		{`{"parameters": {}}`, ""},
		{`{"name": "f", "parameters": {`, ""},
	} {
		content, calls, ok := ParseToolCallsAs("json", tc.reply)
		got, _ := json.Marshal(calls)
		switch {
		case tc.calls == "" && (ok || content != tc.reply):
			t.Errorf("%q: read as %s; want text", tc.reply, got)
		case tc.calls != "" && (!ok || content != "" || string(got) != tc.calls):
			t.Errorf("%q: %v, %q, %s; want %s", tc.reply, ok, content, got, tc.calls)
		}
	}
}

// TestParseMistralToolCalls: [TOOL_CALLS] and a JSON list of named calls
// with object arguments are read (the text before kept); anything else is
// text.
func TestParseMistralToolCalls(t *testing.T) {
	for _, tc := range []struct{ reply, content, calls string }{
		{`[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Bern"}}, {"name": "add", "arguments": {"a": 1}}]`, "", `[{"name":"get_weather","arguments":{"city":"Bern"}},{"name":"add","arguments":{"a":1}}]`},
		{"Checking. [TOOL_CALLS][{\"name\": \"f\", \"arguments\": null}]\n", "Checking.", `[{"name":"f","arguments":{}}]`},
		{`no calls here`, "", ""},
		{`[TOOL_CALLS] [{"name": "f", "arguments": "x"}]`, "", ""},
		{`[TOOL_CALLS] [{"arguments": {}}]`, "", ""},
		{`[TOOL_CALLS] []`, "", ""},
		{`[TOOL_CALLS] [{"name": "f"}] and then`, "", ""},
	} {
		content, calls, ok := ParseToolCallsAs("mistral", tc.reply)
		got, _ := json.Marshal(calls)
		switch {
		case tc.calls == "" && (ok || content != tc.reply):
			t.Errorf("%q: read as %s; want text", tc.reply, got)
		case tc.calls != "" && (!ok || content != tc.content || string(got) != tc.calls):
			t.Errorf("%q: %v, %q, %s; want %q, %s", tc.reply, ok, content, got, tc.content, tc.calls)
		}
	}
}

// TestRenderWithRefuses: a variable may not replace what the conversation
// sets (messages, tools, add_generation_prompt, a special token) and must
// be JSON; ReasoningTags finds <think> blocks only where a template writes
// them.
func TestRenderWithRefuses(t *testing.T) {
	c, err := ParseChatTemplate(`{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{% if enable_thinking is false %}<think></think>{% endif %}`, map[string]string{"bos_token": "<s>"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{{Role: "user", Content: "hi"}}
	for _, name := range []string{"messages", "tools", "add_generation_prompt", "bos_token", "__attn_tojson_indent"} {
		if _, err := c.RenderWith(msgs, nil, true, map[string]json.RawMessage{name: json.RawMessage(`1`)}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("variable %s: error %v; want it refused by name", name, err)
		}
	}
	if _, err := c.RenderWith(msgs, nil, true, map[string]json.RawMessage{"enable_thinking": json.RawMessage(`fals`)}); err == nil || !strings.Contains(err.Error(), "enable_thinking") {
		t.Errorf("a variable that is not JSON: error %v", err)
	}
	got, err := c.RenderWith(msgs, nil, true, map[string]json.RawMessage{"enable_thinking": json.RawMessage(`false`)})
	if err != nil || got != "<s>hi<think></think>" {
		t.Errorf("enable_thinking false: %q, %v", got, err)
	}
	if open, close := c.ReasoningTags(); open != "<think>" || close != "</think>" {
		t.Errorf("ReasoningTags %q %q; want <think> </think>", open, close)
	}
	plain, _ := ParseChatTemplate(`{% for m in messages %}{{ m.content }}{% endfor %}`, nil)
	if open, close := plain.ReasoningTags(); open != "" || close != "" {
		t.Errorf("a template without <think>: ReasoningTags %q %q", open, close)
	}
}

// TestRenderThinking: an assistant's reasoning reaches a harmony template
// (gpt-oss's) as thinking (not beside the text of a turn with tool calls,
// which gpt-oss's template refuses), and any template as
// reasoning_content.
func TestRenderThinking(t *testing.T) {
	const body = `{% for m in messages %}{% if m.thinking is defined %}<|channel|>analysis<|message|>{{ m.thinking }}{% endif %}` +
		`{% if m.reasoning_content is defined %}[{{ m.reasoning_content }}]{% endif %}<|message|>{{ m.content }}{% endfor %}`
	msgs := []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo", Reasoning: "hm"}}
	harmony, _ := ParseChatTemplate(body, nil)
	if got, err := harmony.Render(msgs, false); err != nil || got != "<|message|>hi<|channel|>analysis<|message|>hm[hm]<|message|>yo" {
		t.Errorf("harmony: %q, %v", got, err)
	}
	plain, _ := ParseChatTemplate(strings.NewReplacer("<|channel|>", "", "<|message|>", ":").Replace(body), nil)
	if got, err := plain.Render(msgs, false); err != nil || got != ":hi[hm]:yo" {
		t.Errorf("not harmony: %q, %v", got, err)
	}
	// A turn with tool calls, text and reasoning: gpt-oss's template refuses
	// thinking beside the text, so only the text goes.
	calls := []Message{{Role: "assistant", Content: "yo", Reasoning: "hm", ToolCalls: []ToolCall{{Name: "f", Arguments: json.RawMessage(`{}`)}}}}
	if got, err := harmony.Render(calls, false); err != nil || got != "[hm]<|message|>yo" {
		t.Errorf("harmony, a call with text: %q, %v", got, err)
	}
	if !harmony.Reads("thinking") || harmony.Reads("reasoning_effort") {
		t.Error("Reads")
	}
}
