// roundtrip.js checks that tokenizer.json files written by attn load in
// HuggingFace's tokenizers library and give the golden ids.
//
// Usage: node roundtrip.js DIR
// For every DIR/NAME.json it encodes the lines of DIR/golden-NAME.jsonl
// (attn's own encodings of trained tokenizers) or else
// ../../tokenizer/testdata/golden-NAME.jsonl.gz, and compares ids and offsets.
// Make DIR with: ATTN_TOKENIZER_SAVE_DIR=DIR go test -run 'TestSaveRoundTrip|TestTrainedRoundTrip' ./tokenizer
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');

const dir = process.argv[2];
const testdata = path.join(__dirname, '..', '..', 'tokenizer', 'testdata');

async function main() {
  let bad = 0;
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const name = f.slice(0, -5);
    let goldenPath = path.join(dir, `golden-${name}.jsonl`);
    if (!fs.existsSync(goldenPath)) goldenPath = path.join(testdata, `golden-${name}.jsonl.gz`);
    if (!fs.existsSync(goldenPath)) continue;
    const tok = Tokenizer.fromFile(path.join(dir, f));
    let raw = fs.readFileSync(goldenPath);
    if (goldenPath.endsWith('.gz')) raw = zlib.gunzipSync(raw);
    const lines = raw.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    let n = 0;
    let diff = 0;
    for (const g of lines) {
      if (g.truncation || g.padding) continue;
      const e = g.pair === undefined ? await tok.encode(g.text) : await tok.encode(g.text, g.pair);
      n++;
      if (JSON.stringify(e.getIds()) !== JSON.stringify(g.ids) || JSON.stringify(e.getOffsets()) !== JSON.stringify(g.offsets)) {
        if (diff++ < 3) console.log(`${f}: ${JSON.stringify(g.text).slice(0, 60)}: ids ${e.getIds()} want ${g.ids}`);
      }
    }
    console.log(`${f}: ${n - diff}/${n} lines equal`);
    bad += diff;
  }
  if (bad) process.exit(1);
}

main().catch((e) => { console.error(e); process.exit(1); });
