// embeddings.mjs runs OpenAI's own Node client (npm "openai") against a
// running attn serve with a text encoder (a BERT, or a sentence-transformers
// folder), to show that /v1/embeddings is OpenAI's API: the client asks for
// base64 by default and decodes it, and float, one text or several, and
// "dimensions" give what it expects. It exits non-zero on any mismatch.
//
//   cd tools/openai && npm install
//   attn serve --model all-MiniLM-L6-v2 --addr localhost:8093 &
//   node embeddings.mjs http://localhost:8093/v1
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2] ?? "http://localhost:8093/v1", apiKey: "unused" });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const texts = ["the capital of France", "Paris"];

const b = await client.embeddings.create({ model: "any", input: texts }); // base64 on the wire
const f = await client.embeddings.create({ model: "any", input: texts, encoding_format: "float" });
if (b.object !== "list" || b.data.length !== 2 || f.data.length !== 2 || b.usage.prompt_tokens <= 0 || b.usage.total_tokens !== b.usage.prompt_tokens) {
  fail("embeddings: " + JSON.stringify(b).slice(0, 300));
}
for (const i of [0, 1]) {
  const x = b.data[i].embedding, y = f.data[i].embedding;
  if (b.data[i].index !== i || x.length !== y.length || x.some((v, k) => Math.abs(v - y[k]) > 1e-6)) {
    fail(`item ${i}: base64 and float differ`);
  }
}
const one = await client.embeddings.create({ model: "any", input: texts[1], encoding_format: "float" });
if (one.data.length !== 1 || one.data[0].embedding.some((v, k) => Math.abs(v - f.data[1].embedding[k]) > 1e-6)) {
  fail("one text: " + JSON.stringify(one).slice(0, 300));
}
const short = await client.embeddings.create({ model: "any", input: texts[0], dimensions: 8 });
if (short.data[0].embedding.length !== 8) {
  fail("dimensions 8: " + short.data[0].embedding.length);
}
try {
  await client.embeddings.create({ model: "any", input: [[1, 2, 3]] });
  fail("token ids: no error");
} catch (e) {
  if (!(e instanceof OpenAI.BadRequestError) || !e.message.includes("token ids")) fail("token ids: " + e);
}
console.log(`ok: ${f.data.length} embeddings of ${f.data[0].embedding.length} values, ${b.usage.prompt_tokens} tokens; base64 = float; dimensions 8`);
