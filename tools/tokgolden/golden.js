// golden.js writes the reference encodings that attn's tokenizer tests compare
// against, using HuggingFace's tokenizers library (npm package "tokenizers",
// the Rust core with its native binary bundled).
//
// Usage (from tools/tokgolden): npm install && node golden.js
// Reads  ../../tokenizer/testdata/corpus.json and the tokenizer files there,
// writes ../../tokenizer/testdata/golden-<name>.jsonl.gz, one JSON object a
// line, for the three real tokenizers and for the variants in variants.json.
// Inputs: corpus.json, seeded random lines (troublesome characters, and code
// points from the whole Unicode range) and shakespeare-head.txt lines.
// Offsets are in Unicode code points, as the library reports them.
// Each tokenizer is loaded from both file formats; the script fails if they disagree.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');
const { dir, record, writeGz } = require('./common');

const corpus = JSON.parse(fs.readFileSync(path.join(dir, 'corpus.json'), 'utf8'));

function readText(name) {
  const p = path.join(dir, name);
  const b = fs.readFileSync(p);
  return (name.endsWith('.gz') ? zlib.gunzipSync(b) : b).toString('utf8');
}

// randomLines makes n reproducible lines of characters drawn from a pool of
// troublesome ones: many scripts, marks, emoji and joiners, every kind of
// space, digits, punctuation and pieces of special tokens.
function randomLines(n, seed) {
  const pool = Array.from(
    'aAzZ09 \t\n  éÉßİıǅΣσςЖжאبअক中日本語カタｶﾞ한글각ᄀ\u1161ภา' +
    '\u0301\u0308\u0327\u093f\u0e31\u200b\u200c\u200d\ufe0f\u00ad\u00a0\u3000\u2003\u0085\r' +
    "'\".,;:!?-_()[]{}<>|/\\@#$%^&*+=~`" +
    '😀👍🏽❤🇫🇷👨‍👩ﬁＡ１²½①𝔘▁\ufffd\u0000\u0007'
  );
  const pieces = ['<|endoftext|>', '[CLS]', '[SEP]', '[MASK]', '</s>', '<pad>', '<extra_id_5>', "'s", "'ll", ' the', 'ing', '  '];
  let x = seed >>> 0;
  const rnd = (k) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % k;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = rnd(40);
    let s = '';
    for (let j = 0; j < len; j++) {
      s += rnd(8) === 0 ? pieces[rnd(pieces.length)] : pool[rnd(pool.length)];
    }
    out.push(s);
  }
  return out;
}

// assigned9 is the list of code points assigned in Unicode 9.0, read from
// tokenizer/unicode_age.go (an inversion list). Random code points are drawn
// from it so that no side depends on a newer Unicode than the other knows:
// HF's regexes know Unicode 16, Go's tables 15.0.
const assigned9 = (() => {
  const src = fs.readFileSync(path.join(dir, '..', 'unicode_age.go'), 'utf8');
  const body = src.slice(src.indexOf('assignedIn9'));
  return body.slice(body.indexOf('{') + 1, body.indexOf('}')).match(/0x[0-9A-F]+/g).map(Number);
})();

function isAssigned9(cp) {
  let lo = 0;
  let hi = assigned9.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (assigned9[mid] > cp) hi = mid; else lo = mid + 1;
  }
  return lo % 2 === 1;
}

// randomCodepoints makes n reproducible lines of code points drawn from the
// whole Unicode range (those assigned in Unicode 9.0, surrogates excluded),
// with spaces between, to catch differences in character classes.
function randomCodepoints(n, seed) {
  let x = seed >>> 0;
  const rnd = (k) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % k;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = 1 + rnd(30);
    for (let j = 0; j < len; j++) {
      let cp;
      do {
        switch (rnd(4)) {
          case 0: cp = rnd(0x800); break;
          case 1: cp = rnd(0x10000); break;
          case 2: cp = 0x10000 + rnd(0x20000); break;
          default: cp = 0x20 + rnd(0x60);
        }
      } while ((cp >= 0xd800 && cp < 0xe000) || !isAssigned9(cp));
      s += String.fromCodePoint(cp);
      if (rnd(5) === 0) s += ' ';
    }
    out.push(s);
  }
  return out;
}

const shakespeare = fs.readFileSync(path.join(dir, 'shakespeare-head.txt'), 'utf8').split('\n');

async function records(json) {
  const tok = Tokenizer.fromString(json);
  const out = [];
  for (const t of corpus.single) out.push(await record(tok, t));
  for (const t of randomLines(400, 20261129)) out.push(await record(tok, t));
  for (const t of randomCodepoints(300, 42)) out.push(await record(tok, t));
  for (const t of shakespeare) out.push(await record(tok, t));
  for (const [a, b] of corpus.pairs) out.push(await record(tok, a, b));
  for (const s of corpus.settings) {
    const j = JSON.parse(json);
    j.truncation = s.truncation || null;
    j.padding = s.padding || null;
    const t2 = Tokenizer.fromString(JSON.stringify(j));
    const r = await record(t2, s.text, s.pair);
    if (s.truncation) r.truncation = s.truncation;
    if (s.padding) r.padding = s.padding;
    out.push(r);
  }
  return out;
}

// applyVariant returns base tokenizer.json text with a variant's patch
// applied: top-level fields replace, "model" fields merge, a null
// precompiled_charsmap keeps the base one, extra_added_tokens are appended.
function applyVariant(baseText, patch) {
  const j = JSON.parse(baseText);
  const charsmap = JSON.stringify(j.normalizer || {}).match(/"precompiled_charsmap":"([^"]*)"/);
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'model') Object.assign(j.model, v);
    else if (k === 'extra_added_tokens') j.added_tokens.push(...v);
    else j[k] = v;
  }
  let out = JSON.stringify(j);
  if (charsmap) out = out.replace('"precompiled_charsmap":null', `"precompiled_charsmap":"${charsmap[1]}"`);
  return out;
}

async function variantRecords(json) {
  const tok = Tokenizer.fromString(json);
  const out = [];
  for (const t of corpus.single) out.push(await record(tok, t));
  for (const t of randomLines(150, 7)) out.push(await record(tok, t));
  for (const t of randomCodepoints(150, 9)) out.push(await record(tok, t));
  for (const [a, b] of corpus.pairs) out.push(await record(tok, a, b));
  return out;
}

async function main() {
  const variants = JSON.parse(fs.readFileSync(path.join(dir, 'variants.json'), 'utf8'));
  for (const v of variants) {
    const recs = await variantRecords(applyVariant(readText(v.base), v.patch));
    writeGz(`golden-${v.name}.jsonl.gz`, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    console.log(`golden-${v.name}.jsonl.gz: ${recs.length} lines`);
  }
  const sets = [
    ['gpt2', 'gpt2.json', 'gpt2.modern.json.gz'],
    ['bert-base-uncased', 'bert-base-uncased.json', 'bert-base-uncased.modern.json.gz'],
    ['t5', 't5.json', 't5.modern.json.gz'],
  ];
  for (const [name, legacy, modern] of sets) {
    const a = await records(readText(legacy));
    const b = await records(readText(modern));
    const la = a.map((r) => JSON.stringify(r));
    const lb = b.map((r) => JSON.stringify(r));
    for (let i = 0; i < la.length; i++) {
      if (la[i] !== lb[i]) throw new Error(`${name}: formats disagree on line ${i + 1}`);
    }
    writeGz(`golden-${name}.jsonl.gz`, la.join('\n') + '\n');
    console.log(`golden-${name}.jsonl.gz: ${la.length} lines`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
