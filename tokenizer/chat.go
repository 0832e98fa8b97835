package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation: its role ("system", "user",
// "assistant", "tool") and its text; an assistant's turn may carry the
// tool calls it made (its text then often empty), and a tool's turn the id
// of the call it answers.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// Reasoning is an assistant's reasoning before its reply (the text of
	// a <think> block, or of harmony's analysis channel), passed to the
	// template as reasoning_content, the name Qwen3's template reads (and,
	// for a harmony template, as thinking, gpt-oss's).
	Reasoning string `json:"reasoning_content,omitempty"`
}

// ToolCall is a function call a model made: the function's name and its
// arguments, a JSON object.
type ToolCall struct {
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ChatTemplate turns a conversation into the text a chat model was trained
// on, as HuggingFace's apply_chat_template does: a Jinja template shipped
// with the model (its tokenizer_config.json's chat_template, or a
// chat_template.jinja file), rendered with Jinja2's settings there
// (trim_blocks and lstrip_blocks, loop controls, raise_exception,
// strftime_now, tojson) and the tokenizer's special tokens as variables.
//
// The Jinja engine is github.com/ardanlabs/jinja, written for exactly these
// templates and checked byte for byte against Python's Jinja2; our own
// tests compare it with Jinja2 on the templates in testdata/chat.
type ChatTemplate struct {
	tmpl    *jinja.Template
	source  string
	special map[string]any // bos_token, eos_token, …: what the template may name
}

// ErrNoChatTemplate is returned by OpenChatTemplate for a folder whose
// tokenizer has no chat template (a base model, not a chat model).
var ErrNoChatTemplate = errors.New("no chat template")

// OpenChatTemplate reads the chat template of a model folder: the file
// chat_template.jinja if there is one (where transformers saves it since
// 4.43, and which it prefers), else tokenizer_config.json's chat_template,
// a string or a list of named templates of which "default" is taken, else
// chat_template.json's (an image-text model's processor's). The
// special tokens it may name are the folder's (folderSpecialTokens).
func OpenChatTemplate(dir string) (*ChatTemplate, error) {
	special, cfg, err := folderSpecialTokens(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "tokenizer_config.json")
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		return parseChat(string(b), special, filepath.Join(dir, "chat_template.jinja"))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	raw, ok := cfg["chat_template"]
	if !ok || string(raw) == "null" {
		// An image-text model's processor keeps it in chat_template.json
		// (Gemma 3 4B and up, say).
		procPath := filepath.Join(dir, "chat_template.json")
		proc, err := readJSONObject(procPath)
		if err != nil {
			return nil, err
		}
		var src string
		if t, ok := proc["chat_template"]; ok && json.Unmarshal(t, &src) == nil {
			return parseChat(src, special, procPath)
		}
		return nil, fmt.Errorf("tokenizer: %s: %w (neither chat_template.jinja, tokenizer_config.json's chat_template nor chat_template.json)", dir, ErrNoChatTemplate)
	}
	var src string
	if err := json.Unmarshal(raw, &src); err != nil {
		var named []struct{ Name, Template string }
		if json.Unmarshal(raw, &named) != nil {
			return nil, fmt.Errorf("tokenizer: %s: chat_template is neither a string nor a list of {name, template}", path)
		}
		found := false
		for _, t := range named {
			if t.Name == "default" {
				src, found = t.Template, true
			}
		}
		if !found {
			return nil, fmt.Errorf("tokenizer: %s: chat_template has no template named \"default\"", path)
		}
	}
	return parseChat(src, special, path)
}

// ParseChatTemplate compiles a chat template; special holds the variables
// it may name beside messages, add_generation_prompt, tools and documents
// (bos_token, eos_token, …).
func ParseChatTemplate(src string, special map[string]string) (*ChatTemplate, error) {
	vars := map[string]any{}
	for k, v := range special {
		vars[k] = v
	}
	return parseChat(src, vars, "chat template")
}

func parseChat(src string, special map[string]any, where string) (c *ChatTemplate, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("tokenizer: %s: the template engine failed: %v", where, r)
		}
	}()
	tmpl, err := jinja.Compile(jinjaSource(src))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", where, err)
	}
	return &ChatTemplate{tmpl: tmpl, source: src, special: special}, nil
}

// jinjaSource returns src as Jinja2's lexer reads it with
// apply_chat_template's settings, its whitespace control done: every line
// break (\r\n, \r) a \n and the last one dropped (keep_trailing_newline
// is false), and each text between tags stripped as trim_blocks,
// lstrip_blocks and the tags' - and + say, then written as a string
// expression. The engine would strip whitespace itself, but from the
// nearest text, across expressions and tags ("{% for m in messages
// %}{{ m.role }}\n{% endfor %}" loses its line breaks there); left without
// text, it strips nothing. A source that does not scan is returned as it
// is, for the engine to report.
func jinjaSource(src string) string {
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	src = strings.TrimSuffix(src, "\n")
	pieces, ok := scanJinja(src)
	if !ok {
		return src
	}
	var b strings.Builder
	lineStart := true // the text after the last tag begins a line
	for i, p := range pieces {
		if p.text == nil {
			if !p.drop {
				b.WriteString("{" + string(p.kind) + " " + rewriteTojsonIndent(p.body) + " " + string(closing(p.kind)) + "}")
			}
			continue
		}
		t := *p.text
		if i > 0 {
			prev := pieces[i-1]
			lineStart = false
			switch {
			case prev.right == '-':
				n := len(t)
				t = strings.TrimLeftFunc(t, pySpace)
				lineStart = strings.HasSuffix((*p.text)[:n-len(t)], "\n")
			case prev.right != '+' && prev.kind != '{' && !prev.noTrim && strings.HasPrefix(t, "\n"):
				t, lineStart = t[1:], true
			}
		}
		if i+1 < len(pieces) {
			next := pieces[i+1]
			switch {
			case next.left == '-':
				t = strings.TrimRightFunc(t, pySpace)
			case next.left != '+' && next.kind != '{':
				if l := strings.LastIndexByte(t, '\n') + 1; l > 0 || lineStart {
					if rest := t[l:]; rest != "" && strings.TrimLeftFunc(rest, pySpace) == "" {
						t = t[:l]
					}
				}
			}
		}
		if t != "" { // line breaks kept as they are, for the engine's line numbers
			b.WriteString("{{ '" + jinjaQuote.Replace(t) + "' }}")
		}
	}
	return b.String()
}

// jinjaQuote escapes a text for a string literal of the engine.
var jinjaQuote = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// jinjaPiece is a text or a tag of a template source.
type jinjaPiece struct {
	text        *string // a text's; nil for a tag
	kind        byte    // a tag's: '{' (expression), '%' (statement) or '#' (comment)
	body        string  // between its delimiters and markers
	left, right byte    // its whitespace markers: '-', '+' or 0
	drop        bool    // raw and endraw, whose text stands for itself
	noTrim      bool    // raw, which trim_blocks leaves alone
}

// closing is the first character of the delimiter that closes a tag.
func closing(kind byte) byte {
	if kind == '{' {
		return '}'
	}
	return kind
}

// scanJinja cuts src into texts and tags, tags ending where the engine ends
// them (at the first closing delimiter outside quotes), and a raw block's
// content a text.
func scanJinja(src string) ([]jinjaPiece, bool) {
	var pieces []jinjaPiece
	text := func(s string) { pieces = append(pieces, jinjaPiece{text: &s}) }
	i := 0
	for {
		j := i
		for j+1 < len(src) && !(src[j] == '{' && strings.IndexByte("{%#", src[j+1]) >= 0) {
			j++
		}
		if j+1 >= len(src) {
			text(src[i:])
			return pieces, true
		}
		text(src[i:j])
		p := jinjaPiece{kind: src[j+1]}
		k := j + 2
		if k < len(src) && (src[k] == '-' || src[k] == '+') {
			p.left = src[k]
			k++
		}
		closer := string([]byte{closing(p.kind), '}'})
		end := -1
		for at := k; at < len(src); at++ {
			if c := src[at]; p.kind != '#' && (c == '\'' || c == '"') {
				for at++; at < len(src) && src[at] != c; at++ {
					if src[at] == '\\' {
						at++
					}
				}
				continue
			}
			if strings.HasPrefix(src[at:], closer) {
				end = at
				break
			}
		}
		if end < 0 {
			return nil, false
		}
		i = end + 2
		if m := src[end-1]; end > k && (m == '-' || m == '+' && p.kind != '{') {
			p.right, end = m, end-1
		}
		p.body = src[k:end]
		if p.kind == '%' && strings.TrimFunc(p.body, pySpace) == "raw" && p.right != '+' {
			p.drop, p.noTrim = true, true
			pieces = append(pieces, p)
			content, endraw, after, ok := cutEndraw(src[i:])
			if !ok {
				return nil, false
			}
			text(content)
			pieces = append(pieces, endraw)
			i += after
			continue
		}
		pieces = append(pieces, p)
	}
}

// cutEndraw finds the {% endraw %} that ends a raw block in s: the text
// before it, the tag, and where it ends.
func cutEndraw(s string) (string, jinjaPiece, int, bool) {
	for at := 0; ; at++ {
		j := strings.Index(s[at:], "{%")
		if j < 0 {
			return "", jinjaPiece{}, 0, false
		}
		at += j
		p := jinjaPiece{kind: '%', drop: true}
		k := at + 2
		if k < len(s) && (s[k] == '-' || s[k] == '+') {
			p.left = s[k]
			k++
		}
		rest := strings.TrimLeftFunc(s[k:], pySpace)
		if !strings.HasPrefix(rest, "endraw") {
			continue
		}
		rest = strings.TrimLeftFunc(rest[len("endraw"):], pySpace)
		if len(rest) > 0 && (rest[0] == '-' || rest[0] == '+') {
			p.right, rest = rest[0], rest[1:]
		}
		if !strings.HasPrefix(rest, "%}") {
			continue
		}
		return s[:at], p, len(s) - len(rest) + 2, true
	}
}

// tojsonIndent matches the filter "| tojson(indent=N)", which
// rewriteTojsonIndent turns into "| __attn_tojson_indent(N)": a filter the
// engine does not know is looked up among the variables, where it is
// pyJSONIndent. The engine's indented tojson sorts an object's keys and
// escapes <, > and &, where Python's json.dumps keeps the keys' order and
// the characters (Llama 3.1's template writes its tools so). Rewriting the
// filter, not its operand, leaves whatever it filters (a chain of filters,
// a parenthesized or literal value) as it was.
var tojsonIndent = regexp.MustCompile(`\|\s*tojson\s*\(\s*indent\s*=\s*(\d+)\s*\)`)

// rewriteTojsonIndent rewrites tojsonIndent in a tag's body outside its
// string literals (a template may write the words as text).
func rewriteTojsonIndent(body string) string {
	var b strings.Builder
	from := 0 // the start of the code not yet written
	for at := 0; at < len(body); at++ {
		c := body[at]
		if c != '\'' && c != '"' {
			continue
		}
		b.WriteString(tojsonIndent.ReplaceAllString(body[from:at], "| __attn_tojson_indent($1)"))
		end := at + 1
		for ; end < len(body) && body[end] != c; end++ {
			if body[end] == '\\' {
				end++
			}
		}
		end = min(end+1, len(body))
		b.WriteString(body[at:end])
		from, at = end, end-1
	}
	b.WriteString(tojsonIndent.ReplaceAllString(body[from:], "| __attn_tojson_indent($1)"))
	return b.String()
}

// pyJSONIndent is json.dumps(v, indent=n, ensure_ascii=False), as
// transformers' tojson filter writes it with an indent.
var pyJSONIndent = jinja.NewCallable("tojson", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) != 2 || !args[1].IsInt() {
		return jinja.None(), errors.New("tojson: want a value and an indent")
	}
	var b strings.Builder
	if err := writePyJSON(&b, args[0], int(args[1].AsInt()), 0); err != nil {
		return jinja.None(), err
	}
	return jinja.NewString(b.String()), nil
})

// writePyJSON writes v as Python's json.dumps does with an indent of
// indent spaces (items on lines of their own, ": " between a key and its
// value, non-ASCII characters as they are), level levels deep.
func writePyJSON(b *strings.Builder, v jinja.Value, indent, level int) error {
	pad := func(l int) { b.WriteString("\n" + strings.Repeat(" ", indent*l)) }
	switch {
	case v.IsNone() || v.IsUndefined():
		b.WriteString("null")
	case v.IsBool():
		b.WriteString(strconv.FormatBool(v.AsBool()))
	case v.IsInt():
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		b.WriteString(pyFloat(v.AsFloat()))
	case v.IsString():
		writePyString(b, v.AsString())
	case v.IsList():
		items := v.AsList().Items
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[")
		for i, item := range items {
			if i > 0 {
				b.WriteString(",")
			}
			pad(level + 1)
			if err := writePyJSON(b, item, indent, level+1); err != nil {
				return err
			}
		}
		pad(level)
		b.WriteString("]")
	case v.IsDict():
		d := v.AsDict()
		if len(d.Keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{")
		for i, k := range d.Keys {
			if i > 0 {
				b.WriteString(",")
			}
			pad(level + 1)
			writePyString(b, k)
			b.WriteString(": ")
			if err := writePyJSON(b, d.Data[k], indent, level+1); err != nil {
				return err
			}
		}
		pad(level)
		b.WriteString("}")
	default:
		return fmt.Errorf("tojson: a value of kind %v is not JSON", v)
	}
	return nil
}

// pyFloat formats f as Python's float repr: the shortest digits that read
// back as f, positional between 1e-4 and 1e16 (with ".0" when whole),
// else an exponent.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64) // 1e-05, 1.5e+16: Python's too
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// writePyString writes s quoted as Python's json.dumps(ensure_ascii=False)
// does: only the quote, the backslash and control characters escaped.
func writePyString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// readJSONObject reads a JSON object file; a missing file is an empty
// object.
func readJSONObject(path string) (map[string]json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return obj, nil
}

// pySpace is Python's str.isspace, which Jinja2's stripping follows: Go's
// unicode.IsSpace and the separators U+001C to U+001F.
func pySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// folderSpecialTokens returns the special tokens of dir's tokenizer, by
// name (specialTokens), and its tokenizer_config.json. They are the
// config's; a folder saved before transformers 4.34 (whose config has no
// added_tokens_decoder) has them in special_tokens_map.json too, whose
// values then win, as transformers reads such a folder.
func folderSpecialTokens(dir string) (map[string]any, map[string]json.RawMessage, error) {
	path := filepath.Join(dir, "tokenizer_config.json")
	cfg, err := readJSONObject(path)
	if err != nil {
		return nil, nil, err
	}
	special, err := specialTokens(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if _, ok := cfg["added_tokens_decoder"]; ok {
		return special, cfg, nil
	}
	mapPath := filepath.Join(dir, "special_tokens_map.json")
	m, err := readJSONObject(mapPath)
	if err != nil {
		return nil, nil, err
	}
	mapped, err := specialTokens(m)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: %s: %w", mapPath, err)
	}
	for name, raw := range m {
		v, ok := mapped[name]
		switch {
		case name == "additional_special_tokens" && ok: // added to the config's
			have, _ := special[name].([]any)
			for _, t := range v.([]any) {
				if !slices.Contains(have, t) {
					have = append(have, t)
				}
			}
			special[name] = have
		case ok:
			special[name] = v
		case string(raw) == "null":
			delete(special, name)
		}
	}
	return special, cfg, nil
}

// ConfigToken returns the special token that dir's tokenizer files name by
// key ("pad_token", "eos_token", ...), as transformers reads them
// (folderSpecialTokens); false when they name none.
func ConfigToken(dir, key string) (string, bool, error) {
	special, _, err := folderSpecialTokens(dir)
	if err != nil {
		return "", false, err
	}
	s, ok := special[key].(string)
	return s, ok, nil
}

// specialTokens returns the special tokens a tokenizer_config.json names,
// as transformers' special_tokens_map has them: each a string (a config may
// store one as an AddedToken object, whose content is taken), the
// additional ones a list; absent or null tokens are left undefined.
func specialTokens(cfg map[string]json.RawMessage) (map[string]any, error) {
	tokens := map[string]any{}
	text := func(raw json.RawMessage) (string, bool, error) {
		if string(raw) == "null" {
			return "", false, nil
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true, nil
		}
		var added struct {
			Content *string `json:"content"`
		}
		if json.Unmarshal(raw, &added) == nil && added.Content != nil {
			return *added.Content, true, nil
		}
		return "", false, fmt.Errorf("a special token is %s; want a string or an object with content", raw)
	}
	for _, name := range []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"} {
		raw, ok := cfg[name]
		if !ok {
			continue
		}
		s, ok, err := text(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if ok {
			tokens[name] = s
		}
	}
	if raw, ok := cfg["additional_special_tokens"]; ok && string(raw) != "null" {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("additional_special_tokens: %w", err)
		}
		var names []any
		for _, r := range list {
			s, ok, err := text(r)
			if err != nil {
				return nil, fmt.Errorf("additional_special_tokens: %w", err)
			}
			if ok {
				names = append(names, s)
			}
		}
		tokens["additional_special_tokens"] = names
	}
	return tokens, nil
}

// Render returns the text of a conversation; with addGenerationPrompt it
// ends with what starts the assistant's next turn, for the model to go on
// from. A template that refuses the conversation (raise_exception: roles
// that do not alternate, say) returns its message as the error.
func (c *ChatTemplate) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	return c.RenderTools(messages, nil, addGenerationPrompt)
}

// RenderTools is Render with the tools the model may call, each a JSON
// object as OpenAI's API and transformers take them ({"type": "function",
// "function": {"name", "description", "parameters"}}), passed to the
// template as apply_chat_template passes its tools. Messages are passed as
// transformers expects them: a tool call as {"id", "type": "function",
// "function": {"name", "arguments"}} with its arguments an object, and an
// assistant's turn that only calls tools with content None. Objects keep
// their keys' order, which tojson writes.
func (c *ChatTemplate) RenderTools(messages []Message, tools []json.RawMessage, addGenerationPrompt bool) (string, error) {
	return c.render(messages, tools, addGenerationPrompt, nil)
}

// RenderWith is RenderTools with further variables for the template, each
// a JSON value, as apply_chat_template passes its keyword arguments (Qwen3
// reads enable_thinking, say). A variable may not replace one the template
// is given anyway (messages, tools, a special token, …).
func (c *ChatTemplate) RenderWith(messages []Message, tools []json.RawMessage, addGenerationPrompt bool, vars map[string]json.RawMessage) (string, error) {
	extra, err := c.templateVars(vars)
	if err != nil {
		return "", err
	}
	return c.render(messages, tools, addGenerationPrompt, extra)
}

// CheckVars reports what RenderWith would refuse in vars, before any
// conversation: a name the conversation sets, or a value that is not JSON.
func (c *ChatTemplate) CheckVars(vars map[string]json.RawMessage) error {
	_, err := c.templateVars(vars)
	return err
}

// templateVars returns vars as template values, or what is wrong with them.
func (c *ChatTemplate) templateVars(vars map[string]json.RawMessage) (map[string]jinja.Value, error) {
	extra := make(map[string]jinja.Value, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		_, special := c.special[k]
		switch k {
		case "messages", "tools", "documents", "add_generation_prompt":
			special = true
		}
		if special || strings.HasPrefix(k, "__") {
			return nil, fmt.Errorf("chat template variable %q is attn's to set (from the conversation, its tools or the tokenizer's special tokens)", k)
		}
		v, err := jsonValue(vars[k])
		if err != nil {
			return nil, fmt.Errorf("chat template variable %q: %w", k, err)
		}
		extra[k] = v
	}
	return extra, nil
}

// ReasoningTags returns the tags around a reply's reasoning, "<think>" and
// "</think>" (Qwen3, QwQ, DeepSeek-R1 and their distillations), when the
// template writes them, or "" and "".
func (c *ChatTemplate) ReasoningTags() (open, close string) {
	if strings.Contains(c.source, "<think>") && strings.Contains(c.source, "</think>") {
		return "<think>", "</think>"
	}
	return "", ""
}

// Reads reports whether the template's source names a variable (a
// request's reasoning_effort is refused for a template that never reads
// it).
func (c *ChatTemplate) Reads(name string) bool { return strings.Contains(c.source, name) }

// Channels reports whether the template writes OpenAI's harmony format, as
// gpt-oss's does: each message a header (<|start|>, the role, <|channel|>
// and the channel: analysis for reasoning, commentary, final for the
// answer) and its text after <|message|>, up to <|end|>. Those markers are
// special tokens, so a reply must be decoded with them to be read.
func (c *ChatTemplate) Channels() bool {
	return strings.Contains(c.source, "<|channel|>") && strings.Contains(c.source, "<|message|>")
}

// render is RenderTools with further variables.
func (c *ChatTemplate) render(messages []Message, tools []json.RawMessage, addGenerationPrompt bool, extra map[string]jinja.Value) (string, error) {
	msgs := make([]jinja.Value, len(messages))
	for i, m := range messages { // keys in the order a client writes them, which tojson keeps
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		if m.Content == "" && len(m.ToolCalls) > 0 {
			d.AsDict().Set("content", jinja.None())
		} else {
			d.AsDict().Set("content", jinja.NewString(m.Content))
		}
		if len(m.ToolCalls) > 0 {
			calls := make([]jinja.Value, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				args, err := jsonValue(tc.Arguments)
				if err != nil {
					return "", fmt.Errorf("chat template: message %d, tool call %d: arguments: %w", i, j, err)
				}
				fn := jinja.NewDict()
				fn.AsDict().Set("name", jinja.NewString(tc.Name))
				fn.AsDict().Set("arguments", args)
				call := jinja.NewDict()
				if tc.ID != "" {
					call.AsDict().Set("id", jinja.NewString(tc.ID))
				}
				call.AsDict().Set("type", jinja.NewString("function"))
				call.AsDict().Set("function", fn)
				calls[j] = call
			}
			d.AsDict().Set("tool_calls", jinja.NewList(calls))
		}
		if m.ToolCallID != "" {
			d.AsDict().Set("tool_call_id", jinja.NewString(m.ToolCallID))
		}
		if m.Reasoning != "" {
			d.AsDict().Set("reasoning_content", jinja.NewString(m.Reasoning))
			// gpt-oss's template reads it as thinking, and refuses a turn
			// with tool calls that has both text and thinking: there the
			// text is kept.
			if c.Channels() && (len(m.ToolCalls) == 0 || m.Content == "") {
				d.AsDict().Set("thinking", jinja.NewString(m.Reasoning))
			}
		}
		msgs[i] = d
	}
	// apply_chat_template always passes tools and documents, None without
	// them: a template may test "tools is not none".
	toolList := jinja.None()
	if tools != nil {
		list := make([]jinja.Value, len(tools))
		for i, t := range tools {
			v, err := jsonValue(t)
			if err != nil {
				return "", fmt.Errorf("chat template: tool %d: %w", i, err)
			}
			list[i] = v
		}
		toolList = jinja.NewList(list)
	}
	data := map[string]jinja.Value{"messages": jinja.NewList(msgs), "add_generation_prompt": jinja.NewBool(addGenerationPrompt),
		"tools": toolList, "documents": jinja.None(), "__attn_tojson_indent": pyJSONIndent}
	for k, v := range c.special {
		data[k] = jinja.FromGoValue(v)
	}
	for k, v := range extra {
		data[k] = v
	}
	return renderSafely(c.tmpl, data)
}

// jsonValue returns a JSON text as a template value, its objects' keys in
// their order in the text (as Python's json keeps them, so that tojson
// writes them back in that order).
func jsonValue(raw json.RawMessage) (jinja.Value, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.None(), err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.None(), errors.New("more than one JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.None(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.None(), err
				}
				items = append(items, v)
			}
			_, err := dec.Token()
			return jinja.NewList(items), err
		}
		d := jinja.NewDict()
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return jinja.None(), err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return jinja.None(), err
			}
			d.AsDict().Set(k.(string), v)
		}
		_, err := dec.Token()
		return d, err
	case nil:
		return jinja.None(), nil
	}
	return jinja.FromGoValue(tok), nil
}

// ToolCallFormat names how a template writes tool calls, when it writes
// them in a form attn reads back from the model's text: "hermes", the
// <tool_call>{"name": …, "arguments": …}</tool_call> blocks of Qwen2.5,
// Qwen3 and Hermes models; "json", a reply that is one JSON object
// {"name": …, "parameters": …}, as Llama 3.1's and 3.2's templates ask
// for; "mistral", [TOOL_CALLS] and a JSON list of {"name", "arguments"}
// (Mistral 7B Instruct v0.3's; the calls' ids, which its template checks,
// are 9 letters and digits); "harmony", gpt-oss's messages addressed to
// functions.NAME (it writes them on the commentary channel), the arguments
// their text (see Channels; the chat endpoint reads them by channel, not
// with ParseToolCallsAs). It is "" for any other template.
func (c *ChatTemplate) ToolCallFormat() string {
	switch {
	case c.Channels():
		return "harmony"
	case strings.Contains(c.source, "<tool_call>"):
		return "hermes"
	case strings.Contains(c.source, "[TOOL_CALLS]"):
		return "mistral"
	case strings.Contains(c.source, `"parameters": `) && strings.Contains(c.source, "tool_calls"):
		return "json"
	}
	return ""
}

// ParseToolCallsAs reads a reply's tool calls in format (ToolCallFormat):
// the text before them, and the calls; ok is false, and the reply should
// be taken as text, when it holds none in that form.
func ParseToolCallsAs(format, reply string) (content string, calls []ToolCall, ok bool) {
	switch format {
	case "hermes":
		return ParseToolCalls(reply)
	case "json":
		return parseJSONToolCall(reply)
	case "mistral":
		return parseMistralToolCalls(reply)
	}
	return reply, nil, false
}

// callArguments returns a call's arguments as a JSON object: as written,
// or {} for none or null (a function without parameters); ok is false for
// anything but an object.
func callArguments(raw json.RawMessage) (json.RawMessage, bool) {
	if isNull(raw) {
		return json.RawMessage("{}"), true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, false
	}
	return raw, true
}

// parseMistralToolCalls reads [TOOL_CALLS] and the JSON list after it,
// each a name and its arguments; the text before is the reply's text.
func parseMistralToolCalls(reply string) (string, []ToolCall, bool) {
	const open = "[TOOL_CALLS]"
	at := strings.Index(reply, open)
	if at < 0 {
		return reply, nil, false
	}
	body := strings.TrimSpace(reply[at+len(open):])
	var list []struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if dec.Decode(&list) != nil || len(list) == 0 || strings.TrimSpace(body[dec.InputOffset():]) != "" {
		return reply, nil, false
	}
	calls := make([]ToolCall, len(list))
	for i, c := range list {
		args, ok := callArguments(c.Arguments)
		if c.Name == "" || !ok {
			return reply, nil, false
		}
		calls[i] = ToolCall{Name: c.Name, Arguments: args}
	}
	return strings.TrimSpace(reply[:at]), calls, true
}

// parseJSONToolCall reads a reply that is one JSON object with a name and
// its parameters (or arguments), an optional <|python_tag|> before it.
func parseJSONToolCall(reply string) (string, []ToolCall, bool) {
	body := strings.TrimSpace(reply)
	body = strings.TrimSpace(strings.TrimPrefix(body, "<|python_tag|>"))
	if !strings.HasPrefix(body, "{") {
		return reply, nil, false
	}
	var call struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
		Arguments  json.RawMessage `json:"arguments"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if dec.Decode(&call) != nil || call.Name == "" {
		return reply, nil, false
	}
	if strings.TrimSpace(body[dec.InputOffset():]) != "" {
		return reply, nil, false // text after the object
	}
	// Null parameters are none, as ParseToolCalls takes null arguments: a
	// call of a function without parameters.
	raw := call.Parameters
	if isNull(raw) {
		raw = call.Arguments
	}
	args, ok := callArguments(raw)
	if !ok {
		return reply, nil, false
	}
	return "", []ToolCall{{Name: call.Name, Arguments: args}}, true
}

// ParseToolCalls reads the tool calls of a reply in the hermes format: the
// text before the first <tool_call> block (trimmed), and each block's
// call. ok is false, and the reply should be taken as text, when it has no
// block or a block is not a JSON object with a name and object arguments.
func ParseToolCalls(reply string) (content string, calls []ToolCall, ok bool) {
	const open, close = "<tool_call>", "</tool_call>"
	at := strings.Index(reply, open)
	if at < 0 {
		return reply, nil, false
	}
	content = strings.TrimSpace(reply[:at])
	rest := reply[at:]
	for {
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, open) {
			return reply, nil, false
		}
		body, after, found := strings.Cut(rest[len(open):], close)
		if !found { // a last block the end of the reply cut short
			body, after = rest[len(open):], ""
		}
		var call struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if json.Unmarshal([]byte(strings.TrimSpace(body)), &call) != nil || call.Name == "" {
			return reply, nil, false
		}
		args, ok := callArguments(call.Arguments)
		if !ok {
			return reply, nil, false
		}
		calls = append(calls, ToolCall{Name: call.Name, Arguments: args})
		rest = after
	}
	return content, calls, true
}

// renderSafely renders, turning a panic of the template engine on a
// template it did not foresee into an error: a model folder's template
// must not take a server down.
func renderSafely(t *jinja.Template, data map[string]jinja.Value) (text string, err error) {
	defer func() {
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("chat template: the template engine failed: %v", r)
		}
	}()
	if text, err = t.RenderValues(data); err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return text, nil
}
