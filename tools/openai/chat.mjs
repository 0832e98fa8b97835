// chat.mjs runs OpenAI's own Node client (npm "openai") against a running
// attn serve with a chat model (a folder with a chat template), to show
// that /v1/chat/completions is OpenAI's API: the model list, a reply, the same reply
// streamed (by the client's own stream and by its accumulating helper), a
// second turn with the first reply sent back as the client got it, n
// choices, and an error the client parses. It exits non-zero on any
// mismatch. The messages use lowercase letters and spaces only, which the
// test model of cmd/attn (chatFolder) encodes; any chat model takes them.
//
//   cd tools/openai && npm install
//   attn serve --model Qwen2.5-0.5B-Instruct --addr localhost:8092 &
//   node chat.mjs http://localhost:8092/v1
//
// cmd/attn's tiny chat model is written to a folder by
//   ATTN_CHAT_FOLDER=/tmp/chat-tiny go test ./cmd/attn -run WriteChatFolder
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2] ?? "http://localhost:8092/v1", apiKey: "unused" });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const messages = [{ role: "system", content: "be brief" }, { role: "user", content: "how are you" }];
const params = { model: "any", messages, max_tokens: 24, temperature: 0.8, seed: 7 };

const models = [];
for await (const m of client.models.list()) models.push(m);
if (models.length !== 1 || models[0].object !== "model" || (await client.models.retrieve(models[0].id)).id !== models[0].id) {
  fail("models: " + JSON.stringify(models));
}
console.log("models:", JSON.stringify(models));

const r = await client.chat.completions.create(params);
const c = r.choices[0];
if (r.object !== "chat.completion" || !r.id.startsWith("chatcmpl-") || r.choices.length !== 1 || c.message.role !== "assistant" ||
    typeof c.message.content !== "string" || !["stop", "length"].includes(c.finish_reason) ||
    r.usage.total_tokens !== r.usage.prompt_tokens + r.usage.completion_tokens) {
  fail("completion: " + JSON.stringify(r));
}
console.log("completion:", JSON.stringify(c), JSON.stringify(r.usage));

// The client's stream, with the usage chunk: the same reply and usage.
const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
let text = "", finish = null, usage = null, role = null, chunks = 0, id = null;
for await (const chunk of stream) {
  id ??= chunk.id;
  if (chunk.object !== "chat.completion.chunk" || chunk.id !== id) fail("chunk: " + JSON.stringify(chunk));
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const d of chunk.choices) {
    role ??= d.delta.role;
    text += d.delta.content ?? "";
    if (d.finish_reason) finish = d.finish_reason;
  }
}
if (role !== "assistant" || text !== c.message.content || finish !== c.finish_reason || JSON.stringify(usage) !== JSON.stringify(r.usage)) {
  fail(`stream: role ${role}, ${JSON.stringify(text)}, ${finish}, usage ${JSON.stringify(usage)}`);
}
console.log(`stream: ${chunks} chunks, the same reply, finish_reason and usage`);

// The client's helper puts the chunks together into a completion itself
// (it fails on a choice without role or finish_reason).
const helper = client.beta.chat.completions.stream(params);
const whole = await helper.finalChatCompletion();
if (whole.choices[0].message.content !== c.message.content || await helper.finalContent() !== c.message.content) {
  fail("beta.chat.completions.stream: " + JSON.stringify(whole));
}
console.log("beta.chat.completions.stream: the same reply");

// A second turn, the first reply sent back as the client got it.
const next = await client.chat.completions.create({ ...params, messages: [...messages, c.message, { role: "user", content: "and you" }] });
if (typeof next.choices[0].message.content !== "string" || next.usage.prompt_tokens <= r.usage.prompt_tokens) fail("second turn: " + JSON.stringify(next));
console.log("second turn:", JSON.stringify(next.choices[0].message));

// n choices: choice i is the reply with seed 7+i.
const two = await client.chat.completions.create({ ...params, n: 2 });
const alone = await client.chat.completions.create({ ...params, seed: 8 });
if (two.choices.length !== 2 || two.choices[0].message.content !== c.message.content || two.choices[1].message.content !== alone.choices[0].message.content) {
  fail("n 2: " + JSON.stringify(two));
}
console.log("n 2: the replies with seeds 7 and 8");

try {
  await client.chat.completions.create({ ...params, tools: [{ type: "function", function: { name: "f", parameters: {} } }] });
  fail("tools were accepted by a template that writes no tool calls");
} catch (e) {
  if (!(e instanceof OpenAI.BadRequestError) || !String(e.message).includes("writes no tool calls attn reads back")) fail("error: " + e);
  console.log("error:", e.status, e.message);
}
console.log("ok");
