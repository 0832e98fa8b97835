// train.js trains BPE with HuggingFace's trainer on testdata/train-corpus.txt.gz
// and writes the merges it learns to testdata/golden-train-<kind>.json, for
// attn's trainer test. The Node binding only offers the default trainer
// (vocab size 30000, min frequency 0, no special tokens, no initial alphabet),
// so these are the settings compared.
//
// Usage (from tools/tokgolden): node train.js
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const tk = require('tokenizers');

const dir = path.join(__dirname, '..', '..', 'tokenizer', 'testdata');

function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tokgolden-'));
  const corpus = path.join(tmp, 'train-corpus.txt');
  fs.writeFileSync(corpus, zlib.gunzipSync(fs.readFileSync(path.join(dir, 'train-corpus.txt.gz'))));
  const kinds = {
    bytelevel: (t) => {
      t.setPreTokenizer(tk.byteLevelPreTokenizer(false, true));
    },
    whitespace: (t) => {
      t.setPreTokenizer(tk.whitespacePreTokenizer());
    },
  };
  for (const [kind, setup] of Object.entries(kinds)) {
    const t = new tk.Tokenizer(tk.BPE.empty());
    setup(t);
    t.train([corpus]);
    const out = path.join(tmp, `${kind}.json`);
    t.save(out);
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    const merges = j.model.merges.map((m) => (Array.isArray(m) ? m : m.split(' ')));
    const golden = {
      settings: 'HuggingFace BpeTrainer defaults: vocab_size 30000, min_frequency 0',
      vocab_size: Object.keys(j.model.vocab).length,
      n_merges: merges.length,
      merges: merges.slice(0, 1000),
      pre_tokenizer: j.pre_tokenizer,
    };
    fs.writeFileSync(path.join(dir, `golden-train-${kind}.json`), JSON.stringify(golden) + '\n');
    console.log(`golden-train-${kind}.json: vocab ${golden.vocab_size}, ${golden.n_merges} merges`);
  }
  fs.rmSync(tmp, { recursive: true });
}

main();
