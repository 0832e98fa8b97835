package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/tokenizer"
)

// TestSplitReasoning: a reply that opens a <think> block (spaces before
// it aside), or one that starts inside the block the prompt opened, gives
// the block's text without the line breaks around it as reasoning and
// what follows, without its leading line breaks, as the answer; a block
// that never closes is all reasoning; any other reply is all answer, as
// is every reply of a template without tags. In harmony's format the
// analysis channel's messages are reasoning and the others' answer, the
// headers and markers dropped.
func TestSplitReasoning(t *testing.T) {
	think := reasoning{open: "<think>", close: "</think>"}
	opened := think
	opened.opened = true
	harmony := reasoning{channels: true}
	for _, tc := range []struct {
		r                      reasoning
		reply, thought, answer string
	}{
		{think, "<think>\nWhy not.\n</think>\n\nBecause.", "Why not.", "Because."},
		{think, "  \n<think>a</think>b", "a", "b"},
		{think, "<think>\n\n</think>\n\nAnswer.\n", "", "Answer.\n"},
		{think, "<think>\nStill thinking", "Still thinking", ""},
		{think, "Plain <think>not a block</think> text", "", "Plain <think>not a block</think> text"},
		{think, " \n Plain", "", " \n Plain"},
		{think, "<thin", "", "<thin"},
		{think, "", "", ""},
		{think, "<think>a\n</think>\n \nb</think>c", "a", " \nb</think>c"},
		{opened, "\nWhy not.\n</think>\n\nBecause.", "Why not.", "Because."},
		{opened, "Cut off", "Cut off", ""},
		{opened, "</think>Now.", "", "Now."},
		{opened, "\n<think>\nAgain.\n</think>\nNow.", "Again.", "Now."},
		{reasoning{}, "<think>a</think>b", "", "<think>a</think>b"},
		// gpt-oss's harmony format, decoded with its markers.
		{harmony, "<|channel|>analysis<|message|>User says hi.<|end|><|start|>assistant<|channel|>final<|message|>Hello!", "User says hi.", "Hello!"},
		{harmony, "<|channel|>final<|message|>Just this.<|return|>", "", "Just this."},
		{harmony, "<|channel|>analysis<|message|>Cut off", "Cut off", ""},
		{harmony, "<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>commentary<|message|>Let me look.<|end|>" +
			"<|start|>assistant<|channel|>analysis<|message|>b<|end|><|start|>assistant<|channel|>final<|message|>c", "ab", "Let me look.c"},
		{harmony, "<|channel|>analysis<|message|>a<|start|>assistant<|channel|>final<|message|>b", "a", "b"},
		{harmony, "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>", "", "{}"},
		{harmony, "No header at all.", "", "No header at all."},
		{harmony, "<|channel|>analys", "", ""},
	} {
		thought, answer, calls := splitReasoning(tc.r, tc.reply)
		if thought != tc.thought || answer != tc.answer || calls != nil {
			t.Errorf("%+v, %q: reasoning %q, answer %q, calls %v; want %q, %q", tc.r, tc.reply, thought, answer, calls, tc.thought, tc.answer)
		}
	}
	// With tools, harmony's messages to functions are calls.
	calling := reasoning{channels: true, calls: true}
	for _, tc := range []struct {
		reply, thought, answer, calls string
	}{
		{"<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Bern\"}",
			"Need weather.", "", `get_weather {"city": "Bern"}`},
		{"<|channel|>commentary<|message|>Checking.<|end|><|start|>assistant to=functions.a<|channel|>commentary json<|message|>{}<|call|>" +
			"<|start|>assistant<|channel|>commentary to=functions.b<|message|><|call|>", "", "Checking.", "a {}; b {}"},
		{"<|channel|>commentary to=functions.f<|message|>not json<|call|>", "", "not json", ""},
		{"<|start|>assistant to=functions.f\njson<|channel|>commentary<|message|>null", "", "", "f {}"},
		{"<|channel|>commentary to=browser.search <|constrain|>json<|message|>{}<|call|>", "", "{}", ""},
		{"<|channel|>final<|message|>No call.", "", "No call.", ""},
	} {
		thought, answer, calls := splitReasoning(calling, tc.reply)
		var got []string
		for _, c := range calls {
			got = append(got, c.Name+" "+string(c.Arguments))
		}
		if thought != tc.thought || answer != tc.answer || strings.Join(got, "; ") != tc.calls {
			t.Errorf("%q: reasoning %q, answer %q, calls %q; want %q, %q, %q", tc.reply, thought, answer, got, tc.thought, tc.answer, tc.calls)
		}
	}
	if r := reasoningIn("<think>", "</think>", "<|im_start|>assistant\n<think>\n"); !r.opened {
		t.Error("a prompt ending in <think>: the reply should start inside the block")
	}
	if r := reasoningIn("<think>", "</think>", "assistant\n<think>\n\n</think>\n\n"); r.opened {
		t.Error("a prompt closing an empty block (enable_thinking false): the reply should start outside it")
	}
	if r := reasoningIn("<think>", "</think>", "<|im_start|>user\nWhat is <think> for?<|im_end|>\n<|im_start|>assistant\n"); r.opened {
		t.Error("a <think> typed in a message opened the reply's block")
	}
}

// TestReasoningStreams: however a reply is cut into pieces, the streamed
// reasoning and answer put together are the whole reply's, each choice's
// apart, and all of a choice's reasoning goes out before its answer.
func TestReasoningStreams(t *testing.T) {
	parts := []string{"<think>", "</think>", "<th", "ink>", "</th", "ink", ">", "\n", "\n\n", " ", "a", "bc", "<", "/", "é"}
	harmonyParts := []string{"<|channel|>", "analysis", "final", "commentary", "<|message|>", "<|end|>", "<|start|>", "assistant", "<|call|>",
		"<|return|>", "<|", "|>", "<|mess", "age|>", "a", " b", "é", "<", "|", " to=functions.f", "{}", "{\"a\": 1}", "<|start|>assistant to=functions.g", "\n"}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 6000 {
		r := reasoning{open: "<think>", close: "</think>", opened: trial%3 == 0}
		from := parts
		if trial%2 == 1 {
			r, from = reasoning{channels: true, calls: trial%4 == 3}, harmonyParts
		}
		var b strings.Builder
		for range rng.IntN(14) {
			b.WriteString(from[rng.IntN(len(from))])
		}
		reply := b.String()
		var thoughts, answers [2]strings.Builder
		var finished [2]bool
		var called [2][]tokenizer.ToolCall
		stream := reasoningStreams(2, r, func(i int, text string, finish *string) {
			if finish != nil {
				finished[i] = true
				return
			}
			if text == "" {
				t.Fatalf("%q: an empty answer chunk", reply)
			}
			answers[i].WriteString(text)
		}, func(i int, text string) {
			if answers[i].Len() > 0 && !r.channels || text == "" { // harmony's channels may alternate
				t.Fatalf("%q: reasoning %q after the answer began, or empty", reply, text)
			}
			thoughts[i].WriteString(text)
		}, func(i int, calls []tokenizer.ToolCall) {
			finished[i], called[i] = true, calls
		})
		if r.channels && trial%4 == 1 { // a well-formed start, so that some trials reach the channels
			reply = "<|channel|>" + []string{"analysis", "final"}[rng.IntN(2)] + "<|message|>" + reply
		}
		wantThought, wantAnswer, wantCalls := splitReasoning(r, reply)
		// Choice 0 gets the reply byte by byte, choice 1 in random cuts.
		for i := range len(reply) {
			stream(0, reply[i:i+1], nil)
		}
		for rest := reply; rest != ""; {
			n := 1 + rng.IntN(len(rest))
			stream(1, rest[:n], nil)
			rest = rest[n:]
		}
		stop := "stop"
		stream(0, "", &stop)
		stream(1, "", &stop)
		for i := range 2 {
			if !finished[i] || thoughts[i].String() != wantThought || answers[i].String() != wantAnswer || fmt.Sprint(called[i]) != fmt.Sprint(wantCalls) {
				t.Fatalf("%+v, %q, choice %d: streamed %q, %q and %v; whole %q, %q and %v", r, reply, i, thoughts[i].String(), answers[i].String(), called[i], wantThought, wantAnswer, wantCalls)
			}
		}
	}
}

// thinkTemplate is chatTemplate for a reasoning model: an assistant's
// reasoning_content is written in a block before its reply, and the
// generation prompt opens a block (as DeepSeek-R1's does) unless
// enable_thinking is false, which closes an empty one (as Qwen3's does).
const thinkTemplate = `{%- for message in messages %}{{- '<|im_start|>' + message.role + ' ' }}` +
	`{%- if message.reasoning_content is string %}{{- '<think>' + message.reasoning_content + '</think>' }}{%- endif %}` +
	`{{- message.content + '<|im_end|>' }}{%- endfor %}` +
	`{%- if add_generation_prompt %}{{- '<|im_start|>assistant ' }}` +
	`{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think></think>' }}{%- else %}{{- '<think>' }}{%- endif %}{%- endif %}`

// TestServeChatReasoning: with a reasoning model's template, the greedy
// reply's <think> block comes back as reasoning_content and the rest as
// content, whole or streamed (content null for a reply cut off in the
// block), and attn chat writes the one to stderr, the other to stdout
// (--chat-template-kwargs reaching its template); chat_template_kwargs reach the template
// (enable_thinking false closes the block in the prompt, and the reply is
// then all content), as does an assistant's reasoning_content sent back;
// reasoning_content on a user's turn, and a variable that would replace
// the conversation, are refused by name.
//
// The tiny model's tokenizer has <think> as an added token. The reply's
// </think> is made by naming one of the tokens of the model's greedy
// reply "</think>": the prompt, and so the reply's tokens, stay as they
// are, and the reply then decodes with a block that closes partway.
func TestServeChatReasoning(t *testing.T) {
	dir, pieces := chatFolder(t)
	setChatTemplate(t, dir, thinkTemplate)
	const think = 97
	setTokens(t, dir, pieces, map[int]tokenEdit{think: {"<think>", true, false}})
	msgs := []tokenizer.Message{{Role: "user", Content: "why is the sky blue"}}
	const maxNew = 12
	_, _, ids, out := greedyRun(t, dir, msgs, maxNew)
	// The close tag: a token of the reply's middle that the prompt does not use.
	close := -1
	for _, id := range out[2 : len(out)-2] {
		if id > 3 && id < 96 && !slices.Contains(ids, id) {
			close = id
			break
		}
	}
	if close < 0 {
		t.Fatalf("no token of the reply %v can stand for </think>", out)
	}
	setTokens(t, dir, pieces, map[int]tokenEdit{think: {"<think>", true, false}, close: {"</think>", true, false}})
	_, _, ids2, out2 := greedyRun(t, dir, msgs, maxNew)
	if !slices.Equal(ids, ids2) || !slices.Equal(out, out2) {
		t.Fatalf("naming token %d changed the prompt or the reply: %v %v, %v %v", close, ids, ids2, out, out2)
	}
	full := chatReply(t, dir, msgs, maxNew)
	wantThought, wantAnswer, _ := splitReasoning(reasoning{open: "<think>", close: "</think>", opened: true}, full)
	if !strings.Contains(full, "</think>") || wantThought == "" || wantAnswer == "" {
		t.Fatalf("the reply %q should close its block partway", full)
	}

	chatLines(t, dir, maxNew, wantThought, wantAnswer)
	// --chat-template-kwargs reaches the template: with enable_thinking
	// false the prompt closes the block, and the reply is all answer.
	in := filepath.Join(t.TempDir(), "turns.txt")
	os.WriteFile(in, []byte("why is the sky blue\n"), 0o644)
	var stdout, stderr strings.Builder
	if code := run([]string{"chat", "--model", dir, "--greedy", "--max-new-tokens", fmt.Sprint(maxNew), "--chat-template-kwargs", `{"enable_thinking": false}`, in}, &stdout, &stderr); code != 0 ||
		stderr.String() != "" || strings.TrimSpace(stdout.String()) == "" || stdout.String() == wantAnswer+"\n" {
		t.Errorf("attn chat with enable_thinking false: exit %d, stdout %q, stderr %q; want another reply, all answer", code, stdout.String(), stderr.String())
	}
	for kwargs, want := range map[string]string{`{"messages": []}`: `variable "messages"`, `{"enable_thinking": fals}`: "want a JSON object", `[1]`: "want a JSON object"} {
		if out, code := attn(t, "chat", "--model", dir, "--chat-template-kwargs", kwargs, in); code == 0 || !strings.Contains(out, want) {
			t.Errorf("--chat-template-kwargs %s: exit %d, %q; want an error saying %s", kwargs, code, out, want)
		}
	}

	ts := serveDir(t, dir)
	base := `{"model": "m", "messages": [{"role": "user", "content": "why is the sky blue"}], "max_tokens": ` + fmt.Sprint(maxNew) + `, "temperature": 0`
	code, v, raw := chatPost(t, ts.URL, base+`}`)
	if code != http.StatusOK || len(v.Choices) != 1 {
		t.Fatalf("status %d: %s", code, raw)
	}
	msg := v.Choices[0].Message
	if msg.ReasoningContent == nil || *msg.ReasoningContent != wantThought || msg.Content == nil || *msg.Content != wantAnswer {
		t.Errorf("answer %s; want reasoning_content %q and content %q", raw, wantThought, wantAnswer)
	}
	// Cut off inside the block: all reasoning, content null.
	code, _, raw = chatPost(t, ts.URL, strings.Replace(base, `"max_tokens": `+fmt.Sprint(maxNew), `"max_tokens": 1`, 1)+`}`)
	if !strings.Contains(raw, `"content":null,"reasoning_content":`) {
		t.Errorf("a reply cut off in its block: status %d, %s; want content null beside the reasoning", code, raw)
	}
	code, _, raw = chatPost(t, ts.URL, base+`, "stream": true}`)
	thought, answer, late := streamedParts(raw)
	if code != http.StatusOK || thought != wantThought || answer != wantAnswer || late {
		t.Errorf("streamed reasoning %q and content %q; want %q and %q, the reasoning first (status %d)", thought, answer, wantThought, wantAnswer, code)
	}

	// enable_thinking false closes the block in the prompt (one token more,
	// </think>), and the reply, which opens none, is all content.
	promptTokens := func(body string) (int, chatResponse) {
		t.Helper()
		code, v, raw := chatPost(t, ts.URL, body)
		if code != http.StatusOK || len(v.Choices) != 1 {
			t.Fatalf("status %d: %s", code, raw)
		}
		return usageOf(v).PromptTokens, v
	}
	plain, _ := promptTokens(base + `}`)
	off, v := promptTokens(base + `, "chat_template_kwargs": {"enable_thinking": false}}`)
	if off != plain+1 || v.Choices[0].Message.ReasoningContent != nil || v.Choices[0].Message.text() == "" {
		t.Errorf("enable_thinking false: %d prompt tokens against %d, message %+v; want one more (</think>) and content only", off, plain, v.Choices[0].Message)
	}
	// An assistant's reasoning_content sent back is written by the template.
	turns := `{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"%s}, {"role": "user", "content": "ok"}]}`
	without, _ := promptTokens(fmt.Sprintf(turns, ""))
	with, _ := promptTokens(fmt.Sprintf(turns, `, "reasoning_content": "abc"`))
	// As a reply cut off in its block comes back: taken.
	promptTokens(strings.Replace(fmt.Sprintf(turns, `, "reasoning_content": "abc"`), `"content": "yo"`, `"content": null`, 1))
	if with < without+4 { // <think>, at least two tokens for "abc", </think>
		t.Errorf("an assistant's reasoning_content: %d prompt tokens, %d without; want its block written", with, without)
	}
	for body, want := range map[string]string{
		`{"model": "m", "messages": [{"role": "user", "content": "hi", "reasoning_content": "x"}]}`: `\"reasoning_content\" is an assistant's`,
		base + `, "chat_template_kwargs": {"messages": []}}`:                                        `variable \"messages\"`,
		base + `, "reasoning_effort": "high"}`:                                                      `\"reasoning_effort\": this model's chat template does not read it`,
	} {
		if code, _, raw := chatPost(t, ts.URL, body); code != http.StatusBadRequest || !strings.Contains(raw, want) {
			t.Errorf("%s: status %d, %s; want 400 naming %s", body, code, raw, want)
		}
	}
}

// tokenEdit renames a piece of chatFolder's tokenizer: to an added token
// (special or not: decoding skips special ones unless told to keep them),
// or to another piece of the model's vocabulary.
type tokenEdit struct {
	text           string
	added, special bool
}

// setTokens makes the pieces of chatFolder's tokenizer in dir with the
// given ids what edits says (Qwen3's <think> and </think> are added
// tokens, not special; gpt-oss's harmony markers are special).
func setTokens(t testing.TB, dir string, pieces []string, edits map[int]tokenEdit) {
	t.Helper()
	path := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{}
	for i, p := range pieces {
		if e, ok := edits[i]; ok {
			p = e.text
		}
		vocab[p] = i
	}
	tok["model"].(map[string]any)["vocab"] = vocab
	var list []any
	for _, a := range tok["added_tokens"].([]any) {
		if _, edited := edits[int(a.(map[string]any)["id"].(float64))]; !edited {
			list = append(list, a)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(edits)) {
		if e := edits[id]; e.added {
			list = append(list, map[string]any{"id": id, "content": e.text, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": e.special})
		}
	}
	tok["added_tokens"] = list
	if b, err = json.Marshal(tok); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// harmonyTemplate is chatTemplate with gpt-oss's marks: a comment names the
// harmony markers (ChatTemplate.Channels), and a reasoning_effort, when
// given, adds an empty turn (gpt-oss's template writes it in its system
// message; letters could be tokens TestServeChatHarmony renames). Its
// prompt uses none of the tokens TestServeChatHarmony names after the
// reply's.
const harmonyTemplate = `{#- <|channel|>analysis<|message|> -#}` +
	`{%- if reasoning_effort is defined %}{{- '<|im_start|><|im_end|>' }}{%- endif %}` + chatTemplate

// TestServeChatHarmony: with a template in gpt-oss's harmony format, the
// reply is decoded with its special tokens, and the text of its analysis
// channel comes back as reasoning_content, that of its final channel as
// content, whole or streamed (and to attn chat's stderr and stdout). The
// tiny model's greedy reply is made to start with a header by naming its
// first three tokens <|channel|> (special), the channel and <|message|>
// (special): the prompt, and so the reply's tokens, stay as they are.
// reasoning_effort reaches the template; a value it cannot take, or one
// that chat_template_kwargs contradicts, is refused.
func TestServeChatHarmony(t *testing.T) {
	for _, channel := range []string{"analysis", "final"} {
		t.Run(channel, func(t *testing.T) { serveChatHarmony(t, channel) })
	}
}

func serveChatHarmony(t *testing.T, channel string) {
	const maxNew = 12
	dir, full, _ := harmonyReply(t, maxNew, []tokenEdit{{"<|channel|>", true, true}, {channel, false, false}, {"<|message|>", true, true}})
	wantThought, wantAnswer, _ := splitReasoning(reasoning{channels: true}, full)
	if !strings.HasPrefix(full, "<|channel|>"+channel+"<|message|>") || (wantThought == "") != (channel == "final") || (wantAnswer == "") != (channel == "analysis") {
		t.Fatalf("the reply %q should start with a header of channel %s, and be all %s", full, channel, channel)
	}

	chatLines(t, dir, maxNew, wantThought, wantAnswer)

	ts := serveDir(t, dir)
	body := `{"model": "m", "messages": [{"role": "user", "content": "why is the sky blue"}], "max_tokens": ` + fmt.Sprint(maxNew) + `, "temperature": 0`
	code, v, raw := chatPost(t, ts.URL, body+`}`)
	if code != http.StatusOK || len(v.Choices) != 1 {
		t.Fatalf("status %d: %s", code, raw)
	}
	t.Logf("reply %q: %s", full, raw)
	msg, got := v.Choices[0].Message, ""
	if msg.ReasoningContent != nil {
		got = *msg.ReasoningContent
	}
	if got != wantThought || msg.text() != wantAnswer {
		t.Errorf("answer %s; want reasoning_content %q and content %q", raw, wantThought, wantAnswer)
	}
	_, _, raw = chatPost(t, ts.URL, body+`, "stream": true}`)
	thought, answer, _ := streamedParts(raw)
	if thought != wantThought || answer != wantAnswer || strings.Contains(raw, "<|") {
		t.Errorf("streamed reasoning %q and content %q; want %q and %q, and no markers:\n%s", thought, answer, wantThought, wantAnswer, raw)
	}

	promptTokens := func(extra string) int {
		t.Helper()
		code, v, raw := chatPost(t, ts.URL, body+extra+`}`)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d, %s", extra, code, raw)
		}
		return usageOf(v).PromptTokens
	}
	if plain, low := promptTokens(""), promptTokens(`, "reasoning_effort": "low"`); low != plain+2 {
		t.Errorf("reasoning_effort low: %d prompt tokens, %d without; want its turn written", low, plain)
	}
	for extra, want := range map[string]string{
		`, "reasoning_effort": "extreme"`: `\"reasoning_effort\" is \"extreme\"; want low, medium or high`,
		`, "reasoning_effort": "low", "chat_template_kwargs": {"reasoning_effort": "high"}`: `give one`,
	} {
		if code, _, raw := chatPost(t, ts.URL, body+extra+`}`); code != http.StatusBadRequest || !strings.Contains(raw, want) {
			t.Errorf("%s: status %d, %s; want 400 saying %s", extra, code, raw, want)
		}
	}
}

// streamedParts puts a streamed answer's reasoning_content and content
// deltas together, and reports whether reasoning came after content.
func streamedParts(raw string) (thought, answer string, late bool) {
	for _, line := range strings.Split(raw, "\n") {
		var c chatResponse
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c) != nil || len(c.Choices) != 1 || c.Choices[0].Delta == nil {
			continue
		}
		d := c.Choices[0].Delta
		if d.ReasoningContent != nil {
			late = late || answer != ""
			thought += *d.ReasoningContent
		}
		if d.Content != nil {
			answer += *d.Content
		}
	}
	return thought, answer, late
}

// harmonyReply writes chatFolder's model with harmonyTemplate to a folder
// and names the first tokens of its greedy reply to "why is the sky blue"
// (maxNew tokens) as names says, and returns the folder and the reply
// decoded with its special tokens. The tokens named must be distinct and
// not in the prompt, so that the prompt, and so the reply's tokens, stay
// as they are.
func harmonyReply(t *testing.T, maxNew int, names []tokenEdit) (dir, full string, named []int) {
	t.Helper()
	dir, pieces := chatFolder(t)
	setChatTemplate(t, dir, harmonyTemplate)
	msgs := []tokenizer.Message{{Role: "user", Content: "why is the sky blue"}}
	_, _, ids, out := greedyRun(t, dir, msgs, maxNew)
	head := out[:len(names)]
	edits := map[int]tokenEdit{}
	for i, id := range head {
		if id < 4 || id > 95 || slices.Contains(ids, id) || slices.Contains(head[:i], id) {
			t.Fatalf("the reply %v: its first %d tokens cannot be named (prompt %v)", out, len(names), ids)
		}
		edits[id] = names[i]
	}
	setTokens(t, dir, pieces, edits)
	m, tok, ids2, out2 := greedyRun(t, dir, msgs, maxNew)
	if !slices.Equal(ids, ids2) || !slices.Equal(out, out2) {
		t.Fatalf("naming tokens changed the prompt or the reply: %v %v, %v %v", ids, ids2, out, out2)
	}
	if n := len(out2); m.EndsText(out2[n-1]) {
		out2 = out2[:n-1]
	}
	full, err := continuingAs(m, tok, ids2, true).Decode(out2)
	if err != nil {
		t.Fatal(err)
	}
	return dir, full, head
}

// TestServeChatHarmonyCall: with tools, a harmony reply's message to a
// function comes back as a tool call (finish_reason tool_calls), whole or
// streamed. The greedy reply's first five tokens are named <|channel|>,
// "commentary to=functions.weather", <|message|>, {} and <|call|>; as in
// gpt-oss, <|call|> ends the reply (content null), or, when it does not,
// the text after the call is content.
func TestServeChatHarmonyCall(t *testing.T) {
	for _, ends := range []bool{true, false} {
		t.Run(fmt.Sprintf("call ends %v", ends), func(t *testing.T) { serveChatHarmonyCall(t, ends) })
	}
}

func serveChatHarmonyCall(t *testing.T, callEnds bool) {
	const maxNew = 12
	dir, full, named := harmonyReply(t, maxNew, []tokenEdit{{"<|channel|>", true, true}, {"commentary▁to=functions.weather", false, false},
		{"<|message|>", true, true}, {"{}", false, false}, {"<|call|>", true, true}})
	if callEnds { // <|call|> ends the generation, as gpt-oss's generation_config says
		full = full[:strings.Index(full, "<|call|>")]
		path := filepath.Join(dir, "config.json")
		b, _ := os.ReadFile(path)
		var cfg map[string]any
		json.Unmarshal(b, &cfg)
		cfg["eos_token_id"] = []int{99, named[4]}
		b, _ = json.Marshal(cfg)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, wantAnswer, calls := splitReasoning(reasoning{channels: true, calls: true}, full)
	if len(calls) != 1 || calls[0].Name != "weather" || string(calls[0].Arguments) != "{}" || (wantAnswer == "") != callEnds {
		t.Fatalf("the reply %q should call weather with {} (read as %v, %q)", full, calls, wantAnswer)
	}
	ts := serveDir(t, dir)
	plain := `{"model": "m", "messages": [{"role": "user", "content": "why is the sky blue"}], "max_tokens": ` + fmt.Sprint(maxNew) + `, "temperature": 0`
	body := plain + `, "tools": [{"type": "function", "function": {"name": "weather"}}]`
	code, v, raw := chatPost(t, ts.URL, body+`}`)
	if code != http.StatusOK || len(v.Choices) != 1 {
		t.Fatalf("status %d: %s", code, raw)
	}
	t.Logf("reply %q: %s", full, raw)
	c := v.Choices[0]
	if len(c.Message.ToolCalls) != 1 || c.Message.ToolCalls[0].Function.Name != "weather" || c.Message.ToolCalls[0].Function.Arguments != "{}" ||
		*c.FinishReason != "tool_calls" || c.Message.text() != wantAnswer || (c.Message.Content == nil) != callEnds {
		t.Errorf("answer %s; want a call of weather with {}, finish_reason tool_calls, content %q", raw, wantAnswer)
	}
	_, _, raw = chatPost(t, ts.URL, body+`, "stream": true}`)
	_, answer, _ := streamedParts(raw)
	if answer != wantAnswer || !strings.Contains(raw, `"tool_calls":[{"index":0,"id":"call_`) || !strings.Contains(raw, `"finish_reason":"tool_calls"`) || strings.Contains(raw, "<|") {
		t.Errorf("streamed: %s\nwant content %q, the call and finish_reason tool_calls, no markers", raw, wantAnswer)
	}
	// Without tools the same message is text.
	if _, v, raw := chatPost(t, ts.URL, plain+`}`); len(v.Choices) != 1 || len(v.Choices[0].Message.ToolCalls) != 0 || !strings.Contains(v.Choices[0].Message.text(), "{}") {
		t.Errorf("without tools: %s; want the call's arguments as text", raw)
	}
}

// chatLines runs attn chat greedily on the turn "why is the sky blue" and
// checks that the reasoning goes to stderr and the answer to stdout, each
// ending its line (stderr stays empty without reasoning).
func chatLines(t *testing.T, dir string, maxNew int, thought, answer string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "turns.txt")
	os.WriteFile(in, []byte("why is the sky blue\n"), 0o644)
	var stdout, stderr strings.Builder
	wantErr := ""
	if thought != "" {
		wantErr = thought + "\n"
	}
	if code := run([]string{"chat", "--model", dir, "--greedy", "--max-new-tokens", fmt.Sprint(maxNew), in}, &stdout, &stderr); code != 0 ||
		stdout.String() != answer+"\n" || stderr.String() != wantErr {
		t.Errorf("attn chat: exit %d, stdout %q, stderr %q; want %q and %q", code, stdout.String(), stderr.String(), answer+"\n", wantErr)
	}
}
