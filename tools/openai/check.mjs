// check.mjs runs OpenAI's own Node client (npm "openai") against a running
// attn serve with a GPT, to show that /v1/completions is OpenAI's API:
// a completion, a stream of two prompts, and an error the client parses.
// It exits non-zero on any mismatch.
//
//   cd tools/openai && npm install
//   attn serve --model runs/shakespeare-char --addr localhost:8091 &
//   node check.mjs http://localhost:8091/v1
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2] ?? "http://localhost:8091/v1", apiKey: "unused" });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };

const r = await client.completions.create({ model: "any", prompt: "ROMEO:\n", max_tokens: 30, temperature: 0.8, seed: 7, stop: ["\n\n"] });
if (r.object !== "text_completion" || r.choices.length !== 1 || typeof r.choices[0].text !== "string" ||
    !["stop", "length"].includes(r.choices[0].finish_reason) || r.usage.total_tokens !== r.usage.prompt_tokens + r.usage.completion_tokens) {
  fail("completion: " + JSON.stringify(r));
}
console.log("completion:", JSON.stringify(r.choices[0]));

const stream = await client.completions.create({ model: "any", prompt: ["JULIET:\n", "HAMLET:\n"], max_tokens: 20, seed: 1, stream: true });
const texts = {}, finished = {};
for await (const chunk of stream) {
  for (const c of chunk.choices) {
    texts[c.index] = (texts[c.index] ?? "") + c.text;
    if (c.finish_reason) finished[c.index] = c.finish_reason;
  }
}
const whole = await client.completions.create({ model: "any", prompt: ["JULIET:\n", "HAMLET:\n"], max_tokens: 20, seed: 1 });
for (const c of whole.choices) {
  if (texts[c.index] !== c.text || finished[c.index] !== c.finish_reason) fail(`stream choice ${c.index}: ${JSON.stringify(texts[c.index])} / ${JSON.stringify(c)}`);
}
console.log("stream of two prompts: the same texts as without stream");

try {
  await client.completions.create({ model: "any", prompt: "a", logprobs: 2 });
  fail("logprobs was accepted");
} catch (e) {
  if (e.status !== 400 || !String(e.message).includes('"logprobs" is not supported')) fail("error: " + e);
  console.log("error:", e.status, e.message);
}
console.log("ok");
