// tools.mjs runs OpenAI's own Node client (npm "openai") against a running
// attn serve whose chat model's template writes tool calls, with the
// request shapes of tool calling as the client types them: tools and
// tool_choice "auto", then the conversation sent back with the assistant's
// tool_calls (arguments a JSON string) and the tool's answer (role "tool",
// tool_call_id), streamed and not, and parallel_tool_calls false. The
// random test model writes no calls, so each answer must be text with
// finish_reason "stop" or "length"; a call's shape is checked by
// cmd/attn's Go tests. It exits non-zero on any mismatch.
//
//   cd tools/openai && npm install
//   ATTN_CHAT_FOLDER=/tmp/chat-tools ATTN_CHAT_TOOLS=1 go test ./cmd/attn -run WriteChatFolder
//   attn serve --model /tmp/chat-tools --addr localhost:8093 &
//   node tools.mjs http://localhost:8093/v1
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2] ?? "http://localhost:8093/v1", apiKey: "unused" });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const tools = [{ type: "function", function: { name: "weather", description: "the weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
const text = (c) => {
  if (typeof c.message.content !== "string" || !["stop", "length"].includes(c.finish_reason) || c.message.tool_calls) fail("not a text answer: " + JSON.stringify(c));
  return c.message.content;
};

const first = await client.chat.completions.create({ model: "any", messages: [{ role: "user", content: "weather in bern" }], tools, tool_choice: "auto", max_tokens: 8, temperature: 0 });
console.log("with tools:", JSON.stringify(text(first.choices[0])), "prompt tokens", first.usage.prompt_tokens);

const messages = [
  { role: "user", content: "weather in bern" },
  { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: JSON.stringify({ city: "bern" }) } }] },
  { role: "tool", tool_call_id: "call_1", content: "sunny" },
];
const back = await client.chat.completions.create({ model: "any", messages, tools, max_tokens: 8, temperature: 0, parallel_tool_calls: false });
const answer = text(back.choices[0]);
console.log("the call and its answer sent back:", JSON.stringify(answer), "prompt tokens", back.usage.prompt_tokens);
if (back.usage.prompt_tokens <= first.usage.prompt_tokens) fail("the conversation sent back is no longer than the first");

let streamed = "";
for await (const chunk of await client.chat.completions.create({ model: "any", messages, tools, max_tokens: 8, temperature: 0, stream: true })) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
}
if (streamed !== answer) fail(`streamed ${JSON.stringify(streamed)}; want ${JSON.stringify(answer)}`);
console.log("streamed: the same text");
console.log("ok");
