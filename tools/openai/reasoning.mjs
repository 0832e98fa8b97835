// reasoning.mjs runs OpenAI's own Node client (npm "openai") against a
// running attn serve with a reasoning model (a chat template that writes
// <think> blocks: Qwen3, QwQ, DeepSeek-R1's distillations), to show that
// what a client sees of the reasoning is what vLLM's and DeepSeek's APIs
// give: the message's reasoning_content beside its content, the same
// streamed (by the client's own stream and by its accumulating helper), a
// second turn with the first reply sent back as the client got it, and
// chat_template_kwargs passed through the client. It exits non-zero on any
// mismatch.
//
//   cd tools/openai && npm install
//   attn serve --model Qwen3-0.6B --addr localhost:8092 &
//   node reasoning.mjs http://localhost:8092/v1
//
// cmd/attn's tiny chat model, with a template whose generation prompt opens
// a <think> block, is written to a folder by
//   ATTN_CHAT_FOLDER=/tmp/chat-think ATTN_CHAT_THINK=1 go test ./cmd/attn -run WriteChatFolder
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2] ?? "http://localhost:8092/v1", apiKey: "unused" });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const messages = [{ role: "user", content: "why is the sky blue" }];
const params = { model: "any", messages, max_tokens: 24, temperature: 0 };

const r = await client.chat.completions.create(params);
const m = r.choices[0].message;
if (typeof m.reasoning_content !== "string" || m.reasoning_content === "" || !(typeof m.content === "string" || m.content === null)) {
  fail("completion: " + JSON.stringify(r));
}
console.log("completion:", JSON.stringify(m));

// The client's stream: reasoning deltas first, then content; together the
// same as the whole reply's.
const stream = await client.chat.completions.create({ ...params, stream: true });
let thought = "", text = "";
for await (const chunk of stream) {
  for (const d of chunk.choices) {
    if (d.delta.reasoning_content) {
      if (text !== "") fail("reasoning after content: " + JSON.stringify(chunk));
      thought += d.delta.reasoning_content;
    }
    text += d.delta.content ?? "";
  }
}
if (thought !== m.reasoning_content || text !== (m.content ?? "")) fail(`stream: ${JSON.stringify(thought)}, ${JSON.stringify(text)}`);
console.log("stream: the same reasoning_content and content");

// The client's helper puts the chunks together itself: the same content.
// (openai 4.104's helper knows no reasoning_content: it keeps the field of
// the last delta that had one, as it does with vLLM's streams.)
const helper = client.beta.chat.completions.stream(params);
const whole = await helper.finalChatCompletion();
if (whole.choices[0].message.content !== m.content) fail("beta.chat.completions.stream: " + JSON.stringify(whole));
console.log("beta.chat.completions.stream: the same content");

// A second turn, the first reply sent back as the client got it, its
// reasoning_content included (and content null, for a reply cut off in its
// block). Whether the template writes it is the template's choice: the
// test model's does; Qwen3's drops the reasoning of turns before the last
// user's turn, so there the two prompts are the same length.
const turn = (reply) => [...messages, reply, { role: "user", content: "and at night" }];
const next = await client.chat.completions.create({ ...params, messages: turn(m) });
const bare = await client.chat.completions.create({ ...params, messages: turn({ role: "assistant", content: m.content ?? "" }) });
if (next.usage.prompt_tokens < bare.usage.prompt_tokens) fail(`second turn: ${next.usage.prompt_tokens} prompt tokens with reasoning_content, ${bare.usage.prompt_tokens} without`);
console.log(`second turn: ${next.usage.prompt_tokens} prompt tokens with reasoning_content sent back, ${bare.usage.prompt_tokens} without`);

// chat_template_kwargs, passed through the client as an extra field.
const off = await client.chat.completions.create({ ...params, chat_template_kwargs: { enable_thinking: false } });
if (off.usage.prompt_tokens === r.usage.prompt_tokens) fail("chat_template_kwargs changed nothing: " + JSON.stringify(off));
console.log("enable_thinking false:", JSON.stringify(off.choices[0].message), off.usage.prompt_tokens, "prompt tokens against", r.usage.prompt_tokens);

try {
  await client.chat.completions.create({ ...params, chat_template_kwargs: { messages: [] } });
  fail("chat_template_kwargs replaced the conversation");
} catch (e) {
  if (!(e instanceof OpenAI.BadRequestError) || !String(e.message).includes("messages")) fail("error: " + e);
  console.log("error:", e.status, e.message);
}
console.log("ok");
