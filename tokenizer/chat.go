package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation: its role ("system", "user",
// "assistant") and its text.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
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
	special map[string]any // bos_token, eos_token, …: what the template may name
}

// ErrNoChatTemplate is returned by OpenChatTemplate for a folder whose
// tokenizer has no chat template (a base model, not a chat model).
var ErrNoChatTemplate = errors.New("no chat template")

// OpenChatTemplate reads the chat template of a model folder: the file
// chat_template.jinja if there is one (where transformers saves it since
// 4.43, and which it prefers), else tokenizer_config.json's chat_template,
// a string or a list of named templates of which "default" is taken.
func OpenChatTemplate(dir string) (*ChatTemplate, error) {
	var cfg map[string]json.RawMessage
	path := filepath.Join(dir, "tokenizer_config.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	special, err := specialTokens(cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		return parseChat(string(b), special, filepath.Join(dir, "chat_template.jinja"))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	raw, ok := cfg["chat_template"]
	if !ok || string(raw) == "null" {
		return nil, fmt.Errorf("tokenizer: %s: %w (neither chat_template.jinja nor tokenizer_config.json's chat_template)", dir, ErrNoChatTemplate)
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
	return &ChatTemplate{tmpl: tmpl, special: special}, nil
}

// jinjaSource is src as Jinja2's lexer reads it with transformers'
// settings: every line break (\r\n, \r) a \n, and the last one dropped
// (keep_trailing_newline is false), which a template saved with a final
// line break would otherwise add to every prompt.
func jinjaSource(src string) string {
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	return strings.TrimSuffix(src, "\n")
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
	msgs := make([]jinja.Value, len(messages))
	for i, m := range messages { // keys in the order a client writes them, which tojson keeps
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		msgs[i] = d
	}
	// apply_chat_template always passes tools and documents, None without
	// them: a template may test "tools is not none".
	data := map[string]jinja.Value{"messages": jinja.NewList(msgs), "add_generation_prompt": jinja.NewBool(addGenerationPrompt),
		"tools": jinja.None(), "documents": jinja.None()}
	for k, v := range c.special {
		data[k] = jinja.FromGoValue(v)
	}
	return renderSafely(c.tmpl, data)
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
