// bench.js measures encoding throughput of HuggingFace's tokenizers library
// and of attn on the same inputs in the same run, and prints a Markdown
// table for tokenizer/BENCHMARKS.md.
//
// Usage (from tools/tokgolden): node bench.js [TEXT_FILE...]
// Default inputs: tinyshakespeare (../../../shared/data/tinyshakespeare/input.txt)
// and a mixed-language text made from the test corpus (written to a temp file).
// "1 core" is one encode call on the whole text; "all cores" is encodeBatch
// over its lines (HF uses its rayon pool; attn EncodeBatch uses all cores).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { Tokenizer } = require('tokenizers');

const root = path.join(__dirname, '..', '..');
const testdata = path.join(root, 'tokenizer', 'testdata');
const toks = { gpt2: 'gpt2.json', bert: 'bert-base-uncased.json', t5: 't5.json' };

function inputs() {
  if (process.argv.length > 2) return process.argv.slice(2);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tokbench-'));
  const corpus = JSON.parse(fs.readFileSync(path.join(testdata, 'corpus.json'), 'utf8'));
  let text = '';
  const unit = corpus.single.join('\n') + '\n';
  while (text.length < 1 << 20) text += unit;
  const mixed = path.join(tmp, 'mixed.txt');
  fs.writeFileSync(mixed, text);
  return [path.join(root, '..', 'shared', 'data', 'tinyshakespeare', 'input.txt'), mixed];
}

async function timeIt(fn) {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

async function main() {
  const rows = [];
  for (const file of inputs()) {
    const text = fs.readFileSync(file, 'utf8');
    const mb = Buffer.byteLength(text) / 1e6;
    const lines = text.split(/(?<=\n)/);
    const goOut = execFileSync('go', ['test', '-run', 'XXX', '-bench', 'BenchmarkEncode/', '-benchtime', '3x', './tokenizer'], {
      cwd: root, env: { ...process.env, ATTN_BENCH_FILE: file }, encoding: 'utf8',
    });
    for (const [name, f] of Object.entries(toks)) {
      const tok = Tokenizer.fromFile(path.join(testdata, f));
      const one = await timeIt(() => tok.encode(text, null, { addSpecialTokens: false }));
      const all = await timeIt(() => tok.encodeBatch(lines, { addSpecialTokens: false }));
      const go = (mode) => {
        const m = goOut.match(new RegExp(`BenchmarkEncode/${name}/file/${mode}-\\d+\\s+\\d+\\s+\\d+ ns/op\\s+([\\d.]+) MB/s`));
        return m ? Number(m[1]) : NaN;
      };
      rows.push(`| ${path.basename(file)} | ${name} | ${(mb / one).toFixed(2)} | ${go('1core').toFixed(2)} | ${(mb / all).toFixed(2)} | ${go('allcores').toFixed(2)} |`);
      console.error(rows[rows.length - 1]);
    }
  }
  console.log(`cores: ${os.cpus().length}, ${os.cpus()[0].model}`);
  console.log('| input | tokenizer | HF 1 core MB/s | attn 1 core MB/s | HF all cores MB/s | attn all cores MB/s |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

main().catch((e) => { console.error(e); process.exit(1); });
