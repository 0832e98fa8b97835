package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/tokenizer"
)

// chatTemplate is a ChatML template without newlines (the tiny tokenizer
// spells lowercase letters and spaces only), with the default system
// message Qwen2.5's template gives.
const chatTemplate = `{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system ' + messages[0]['content'] + '<|im_end|>' }}` +
	`{%- else %}{{- '<|im_start|>system be kind<|im_end|>' }}{%- endif %}` +
	`{%- for message in messages %}{%- if message.role != 'system' or not loop.first %}` +
	`{{- '<|im_start|>' + message.role + ' ' + message.content + '<|im_end|>' }}{%- endif %}{%- endfor %}` +
	`{%- if add_generation_prompt %}{{- '<|im_start|>assistant ' }}{%- endif %}`

// chatFolder is the tiny Llama with a chat model's tokenizer: ids 98 and
// 99 are the special tokens <|im_start|> and <|im_end|>, the latter the end
// of text (config.json's eos_token_id), and tokenizer_config.json holds
// chatTemplate. Its context is 256 positions (RoPE has no table to grow).
func chatFolder(t testing.TB) (dir string, pieces []string) {
	t.Helper()
	return chatFolderOf(t, "llama-tiny")
}

// chatFolderOf is chatFolder with the weights of testdata/hf/NAME.
func chatFolderOf(t testing.TB, name string) (dir string, pieces []string) {
	t.Helper()
	dir, pieces = llamaFolder(t, name)
	edit := func(name string, change func(map[string]any)) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		change(v)
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	pieces[98], pieces[99] = "<|im_start|>", "<|im_end|>"
	edit("tokenizer.json", func(tok map[string]any) {
		model := tok["model"].(map[string]any)
		vocab := map[string]int{}
		for i, p := range pieces {
			vocab[p] = i
		}
		model["vocab"] = vocab
		added := tok["added_tokens"].([]any)
		for id := 98; id < 100; id++ {
			added = append(added, map[string]any{"id": id, "content": pieces[id], "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
		}
		tok["added_tokens"] = added
	})
	edit("config.json", func(cfg map[string]any) {
		cfg["eos_token_id"] = 99 // </s> comes first too often in the random model
		cfg["max_position_embeddings"] = 256
	})
	setChatTemplate(t, dir, chatTemplate)
	return dir, pieces
}

// setChatTemplate writes dir's tokenizer_config.json with chatFolder's
// special tokens and the chat template tmpl.
func setChatTemplate(t testing.TB, dir, tmpl string) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"bos_token": "<s>", "eos_token": "<|im_end|>", "chat_template": tmpl})
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
}

// chatReply is the greedy reply of the model in dir to a conversation,
// computed the long way: the template's ids, generate.Text from an empty
// cache, the text decoded up to the first end-of-text token.
func chatReply(t *testing.T, dir string, msgs []tokenizer.Message, maxNew int) string {
	t.Helper()
	m, tok, ids, out := greedyRun(t, dir, msgs, maxNew)
	if n := len(out); n > 0 && m.EndsText(out[n-1]) {
		out = out[:n-1]
	}
	text, err := continuing(m, tok, ids).Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// greedyRun loads the model in dir and generates greedily after the
// conversation through its chat template, from an empty cache.
func greedyRun(t *testing.T, dir string, msgs []tokenizer.Message, maxNew int) (m *llama.Model, tok tokenizer.Tokenizer, ids, out []int) {
	t.Helper()
	m, tok, err := loadLlama(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := openChat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err = encodeChat(tmpl, tok, msgs); err != nil {
		t.Fatal(err)
	}
	if out, err = generate.Text(m, ids, maxNew, &generate.Sampler{}, nil); err != nil {
		t.Fatal(err)
	}
	return m, tok, ids, out
}

// TestChat: attn chat answers each line as a user's turn, each reply the
// model's greedy continuation of the whole conversation so far through its
// chat template (the earlier replies included, the system message first);
// the oldest turns make way when the conversation outgrows the context.
func TestChat(t *testing.T) {
	dir, _ := chatFolder(t)
	in := filepath.Join(t.TempDir(), "turns.txt")
	os.WriteFile(in, []byte("hi there\n\nhow are you\n"), 0o644)
	out, code := attn(t, "chat", "--model", dir, "--greedy", "--max-new-tokens", "12", "--system", "be brief", in)
	if code != 0 {
		t.Fatalf("attn chat: exit %d\n%s", code, out)
	}
	replies := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(replies) != 2 {
		t.Fatalf("attn chat: %d lines for two turns (a blank line is skipped):\n%s", len(replies), out)
	}
	conv := []tokenizer.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi there"}}
	if want := chatReply(t, dir, conv, 12); replies[0] != want {
		t.Errorf("first reply %q; want %q", replies[0], want)
	}
	conv = append(conv, tokenizer.Message{Role: "assistant", Content: replies[0]}, tokenizer.Message{Role: "user", Content: "how are you"})
	if want := chatReply(t, dir, conv, 12); replies[1] != want {
		t.Errorf("second reply %q; want %q (the first turn and its reply in the conversation)", replies[1], want)
	}
	t.Logf("replies: %q", replies)

	// Forty turns of about 60 tokens outgrow the 256-token context many
	// times over; each is still answered.
	var long strings.Builder
	for i := range 40 {
		fmt.Fprintf(&long, "turn %c of many words to fill the context of this model\n", 'a'+i%26)
	}
	os.WriteFile(in, []byte(long.String()), 0o644)
	out, code = attn(t, "chat", "--model", dir, "--greedy", "--max-new-tokens", "4", in)
	if code != 0 || strings.Count(out, "\n") != 40 {
		t.Errorf("forty long turns: exit %d, %d lines\n%s", code, strings.Count(out, "\n"), out)
	}
	os.WriteFile(in, []byte("hi\n"+strings.Repeat("word ", 60)+"\n"), 0o644)
	if out, code = attn(t, "chat", "--model", dir, in); code == 0 || !strings.Contains(out, "line 2: the turn is") || !strings.Contains(out, "context holds 256") {
		t.Errorf("a turn longer than the context: exit %d\n%s", code, out)
	}
	os.WriteFile(in, []byte("hi, you\n"), 0o644)
	if out, code = attn(t, "chat", "--model", dir, in); code == 0 || !strings.Contains(out, `cannot encode character ','`) {
		t.Errorf("a character the tokenizer lacks: exit %d\n%s", code, out)
	}
	base, _ := llamaFolder(t, "llama-tiny")
	if out, code = attn(t, "chat", "--model", base, in); code == 0 || !strings.Contains(out, "has no chat template") {
		t.Errorf("a base model: exit %d\n%s", code, out)
	}
}

// TestChatSampling: without flags attn chat samples as the folder's
// generation_config.json says (greedy unless do_sample, as HF's generate),
// and says that a repetition penalty is not applied.
func TestChatSampling(t *testing.T) {
	dir, _ := chatFolder(t)
	in := filepath.Join(t.TempDir(), "turns.txt")
	os.WriteFile(in, []byte("hi there\n"), 0o644)
	greedy, code := attn(t, "chat", "--model", dir, "--max-new-tokens", "12", in)
	if want := chatReply(t, dir, []tokenizer.Message{{Role: "user", Content: "hi there"}}, 12) + "\n"; code != 0 || greedy != want {
		t.Errorf("no generation_config.json: exit %d, %q; want the greedy reply %q", code, greedy, want)
	}
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"do_sample": true, "temperature": 1.5, "top_k": 0, "top_p": 1.0, "repetition_penalty": 1.05}`), 0o644)
	var differ bool
	for seed := range 4 {
		out, code := attn(t, "chat", "--model", dir, "--max-new-tokens", "12", "--seed", fmt.Sprint(seed), in)
		if code != 0 || !strings.Contains(out, "repetition_penalty 1.05 is not applied") {
			t.Fatalf("do_sample: exit %d\n%s", code, out)
		}
		differ = differ || !strings.HasPrefix(out, greedy)
	}
	if !differ {
		t.Errorf("do_sample with temperature 1.5: four seeds all gave the greedy reply %q", greedy)
	}
	if out, code := attn(t, "chat", "--model", dir, "--greedy", "--max-new-tokens", "12", in); code != 0 || !strings.HasPrefix(out, greedy) {
		t.Errorf("--greedy over do_sample: exit %d, %q; want %q", code, out, greedy)
	}
}

// TestReadSampling: generation_config.json's sampling as HF's
// GenerationConfig reads it: what it leaves out has HF's defaults (top_k
// 50), and a null top_k is none (HF adds no top-k warper for None).
func TestReadSampling(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		config     string
		topK       int
		temp, topP float64
	}{
		{"", 50, 0, 1},
		{`{"do_sample": true}`, 50, 1, 1},
		{`{"do_sample": true, "top_k": null, "top_p": null, "temperature": null}`, 0, 1, 1},
		{`{"do_sample": true, "top_k": 20, "top_p": 0.8, "temperature": 0.7}`, 20, 0.7, 0.8},
	} {
		os.Remove(filepath.Join(dir, "generation_config.json"))
		if tc.config != "" {
			os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(tc.config), 0o644)
		}
		s, err := readSampling(dir)
		if err != nil || s.topK() != tc.topK || s.temperature() != tc.temp || s.TopP != tc.topP {
			t.Errorf("%s: top_k %d, temperature %v, top_p %v, %v; want %d, %v, %v", tc.config, s.topK(), s.temperature(), s.TopP, err, tc.topK, tc.temp, tc.topP)
		}
	}
}

// TestGenerateNotesChatModel: attn generate still continues a chat model's
// text as it is, and says that attn chat would use the chat template.
func TestGenerateNotesChatModel(t *testing.T) {
	dir, _ := chatFolder(t)
	out, code := attn(t, "generate", "--model", dir, "--greedy", "--max-new-tokens", "4", "hi there")
	if code != 0 || !strings.Contains(out, "is a chat model: attn chat") {
		t.Errorf("attn generate on a chat model: exit %d\n%s", code, out)
	}
	base, _ := llamaFolder(t, "llama-tiny")
	if out, _ := attn(t, "generate", "--model", base, "--greedy", "--max-new-tokens", "4", "hi there"); strings.Contains(out, "chat model") {
		t.Errorf("attn generate on a base model names chat:\n%s", out)
	}
}

// TestChatInterrupt: a reply interrupted (Ctrl-C on a terminal) ends where
// it is, as much of it as was written kept in the history, and the next
// turn is answered as the greedy continuation of that conversation; an
// interrupt with no reply being written reports it (the chat then ends).
func TestChatInterrupt(t *testing.T) {
	dir, _ := chatFolder(t)
	m, tok, err := loadLlama(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := openChat(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &chat{m: m, tok: tok, tmpl: tmpl, session: generate.NewSession(m), sampler: &generate.Sampler{}, maxNew: 40}
	if c.interrupt() {
		t.Error("an interrupt at the prompt reported a reply")
	}
	full := chatReply(t, dir, []tokenizer.Message{{Role: "user", Content: "hi there"}}, 40)
	var got string
	chunks := 0
	if err := c.reply("hi there", func(s string) {
		got += s
		if chunks++; chunks == 3 {
			c.interrupt()
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	if got == "" || len(got) >= len(full) || !strings.HasPrefix(full, got) {
		t.Fatalf("interrupted after 3 chunks: %q; want a start of %q", got, full)
	}
	if h := c.history[len(c.history)-1]; h.Role != "assistant" || h.Content != got {
		t.Errorf("the history's reply %q; want the part written, %q", h.Content, got)
	}
	var next string
	if err := c.reply("and you", func(s string) { next += s }, nil); err != nil {
		t.Fatal(err)
	}
	want := chatReply(t, dir, append(slices.Clone(c.history[:len(c.history)-2]), tokenizer.Message{Role: "user", Content: "and you"}), 40)
	if next != want {
		t.Errorf("the turn after an interrupted reply: %q; want %q", next, want)
	}
}
