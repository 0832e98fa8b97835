// clip.js writes tokenizer/testdata/clip-tokenizer.json, a small tokenizer
// laid out as openai/clip-vit-base-patch32's tokenizer.json (what
// transformers' CLIPConverter makes for CLIPTokenizerFast), and
// tokenizer/testdata/golden-clip.jsonl.gz, the encodings HuggingFace's tokenizers
// library gives it, one JSON object a line as in golden.js, and
// tokenizer/testdata/clip-tokenizer.modern.json.gz, the same tokenizer as the
// library saves it (merges as pairs, byte_fallback, ignore_merges, use_regex).
//
// The file keeps CLIP's pipeline whole: normalizer NFC, Replace \s+ by " ",
// Lowercase; pre-tokenizer Split (CLIP's pattern, "Removed", inverted) then
// ByteLevel without a prefix space; BPE over the 256 byte-level symbols and
// their "</w>" forms, then one token per merge (CLIP's vocab order), unk
// "<|endoftext|>", end_of_word_suffix "</w>", no fuse_unk; RobertaProcessing
// with <|startoftext|> and <|endoftext|>; ByteLevel decoder; both special
// tokens added, normalized. Only the merges are fewer: MERGES learned here
// (most frequent pair first, ties to the smaller pair) on shakespeare-head.txt
// and some captions, so that common words and caption words are whole tokens.
//
// The shipped file's Split pattern starts with <\|startoftext\|>|<\|endoftext\|>|
// (the slow tokenizer's pattern); today's CLIPConverter leaves those two
// alternatives out. The script requires both patterns, and the saved file, to
// give the same encodings, so the Go test may load any of them.
//
// Usage (from tools/tokgolden): npm install && node clip.js
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');
const { dir, record, writeGz } = require('./common');

const MERGES = 600;
const corpus = JSON.parse(fs.readFileSync(path.join(dir, 'corpus.json'), 'utf8'));

// bytesToUnicode is CLIP's (and GPT-2's) bytes_to_unicode, in its order:
// printable bytes map to themselves, the rest to 256, 257, ...
function bytesToUnicode() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return bs.map((b, i) => [b, String.fromCodePoint(cs[i])]);
}
const byteChars = bytesToUnicode();
const byteToChar = new Map(byteChars);

const shippedPattern = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
const converterPattern = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

// words splits corpus text into byte-level words the way CLIP's pipeline
// roughly does (for learning merges only; the goldens come from the library).
function words(text) {
  const t = text.normalize('NFC').replace(/\s+/gu, ' ').toLowerCase();
  const re = /'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu;
  return (t.match(re) || []).map((w) => Array.from(Buffer.from(w, 'utf8'), (b) => byteToChar.get(b)).join(''));
}

const captions = [
  'a photo of a cat', 'a photo of a dog', 'a photo of the cat', 'a picture of a dog on the beach',
  'a photo of a bird', 'an image of a car', 'a painting of a cat in the style of van gogh',
  'hello world', 'hello, how are you?', "don't stop", "it's a cat", "they're here", "we've seen it",
  "i'm here", "you'll see", "he'd go", 'the year 2024', 'a red car and a blue car', 'two dogs playing',
  'a close-up photo of a flower', 'caf\u00e9 in paris', 'a photo of a person smiling',
];

// learnMerges learns n merges on the words' frequencies; a merge whose
// result is already a token is passed over, so every merge adds one token.
function learnMerges(freq, n, vocab) {
  const ws = [...freq.entries()].map(([w, c]) => {
    const s = Array.from(w);
    s[s.length - 1] += '</w>';
    return { s, c };
  });
  const merges = [];
  while (merges.length < n) {
    const counts = new Map();
    for (const { s, c } of ws) {
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i] + ' ' + s[i + 1];
        counts.set(k, (counts.get(k) || 0) + c);
      }
    }
    let best = null;
    let bestC = 0;
    for (const [k, c] of counts) {
      if (vocab.has(k.replace(' ', ''))) continue;
      if (c > bestC || (c === bestC && k < best)) {
        best = k;
        bestC = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split(' ');
    merges.push(best);
    vocab.add(a + b);
    for (const w of ws) {
      const out = [];
      for (let i = 0; i < w.s.length; i++) {
        if (i + 1 < w.s.length && w.s[i] === a && w.s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.s[i]);
      }
      w.s = out;
    }
  }
  return merges;
}

function buildTokenizer() {
  const freq = new Map();
  const add = (text, k) => { for (const w of words(text)) freq.set(w, (freq.get(w) || 0) + k); };
  add(fs.readFileSync(path.join(dir, 'shakespeare-head.txt'), 'utf8'), 1);
  for (const c of captions) add(c, 40);
  const base = byteChars.map(([, c]) => c);
  const tokens = [...base, ...base.map((c) => c + '</w>')];
  const merges = learnMerges(freq, MERGES, new Set(tokens));
  for (const m of merges) tokens.push(m.replace(' ', ''));
  tokens.push('<|startoftext|>', '<|endoftext|>');
  const vocab = {};
  tokens.forEach((t, i) => { vocab[t] = i; });
  if (Object.keys(vocab).length !== tokens.length) throw new Error('duplicate token');
  const sot = vocab['<|startoftext|>'];
  const eot = vocab['<|endoftext|>'];
  const special = (id, content) => ({ id, special: true, content, single_word: false, lstrip: false, rstrip: false, normalized: true });
  // Fields in the order (and with the defaults) the shipped file has them.
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(sot, '<|startoftext|>'), special(eot, '<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: shippedPattern }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', eot], cls: ['<|startoftext|>', sot], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true },
    model: {
      type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false,
      vocab, merges,
    },
  };
}

// The texts (besides corpus.json's texts, pairs and settings): captions, contractions (also in capitals: the pattern sees the
// lowercased text), numbers, punctuation, emoji, accents composed and not,
// runs of every kind of space, very long words, other scripts, letters whose
// lowercase is longer or context-dependent, and the special tokens written
// in the text (normalized, so matched after lowercasing too).
const texts = [
  '', ' ', '   \t\n  ', '\n',
  'a photo of a cat', 'A Photo Of A CAT', 'a photo of a cat.', '  a   photo\tof\na cat  ',
  'hello', 'Hello, World!', 'hello world hello world',
  "don't", "it's", "DON'T IT'S", "They're sure we've got what I'm after, you'll see, he'd say",
  "don\u2019t it\u2019s", "''s 's' 'S", "rock'n'roll",
  '2024', 'in 2024, 3.14 and 1,000,000 people', 'x\u00b2 \u00bd \u2460 \u0663\u0664 \uff11\uff12',
  '!!!???...', '(a) [b] {c} <d> "e" #f @g $5 100% a+b=c', '--> <-- ==> ...!? :-)',
  '\u{1f600} \u{1f44d}\u{1f3fd} \u2764\ufe0f \u{1f468}\u200d\u{1f469}\u200d\u{1f467} \u{1f1eb}\u{1f1f7}',
  'caf\u00e9', 'cafe\u0301', 'CAF\u00c9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m', 'a\u0301\u0301 q\u0323\u0307',
  'a\u00a0b\u3000c\u2003d\u0085e\u000bf\u200bg', 'mIxEd CaSe WoRdS',
  'supercalifragilisticexpialidocious'.repeat(8), 'a'.repeat(300), '1234567890'.repeat(5),
  '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8', '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!',
  '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645', '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e',
  '\u0130stanbul \u01c5 \u1e9e STRASSE \u00df', '\u039f\u0394\u039f\u03a3 \u03a3\u03a3', '\ufb01le \uff21\uff22\uff23',
  '<|startoftext|>a cat<|endoftext|>', 'cat<|endoftext|>dog', '<|ENDOFTEXT|> <|StartOfText|>', '<|endoftext', 'hello</w> </w>',
  'tab\tseparated\tvalues\nand\r\nlines', '\u0000\u0007\u001f control', 'https://example.com/a_b?c=d&e=f',
];
const pairs = [['a photo of a cat', 'a photo of a dog'], ["It's 2024!", '  caf\u00e9  '], ['', 'hello']];

async function records(json) {
  const tok = Tokenizer.fromString(json);
  const out = [];
  for (const t of texts) out.push(await record(tok, t));
  for (const t of corpus.single) out.push(await record(tok, t));
  for (const [a, b] of pairs) out.push(await record(tok, a, b));
  for (const [a, b] of corpus.pairs) out.push(await record(tok, a, b));
  for (const s of corpus.settings) {
    const j = JSON.parse(json);
    j.truncation = s.truncation || null;
    j.padding = s.padding || null;
    // A truncation the library refuses (the pair's special tokens leave too
    // little room) is recorded as its error, which attn must give too.
    const r = await record(Tokenizer.fromString(JSON.stringify(j)), s.text, s.pair)
      .catch((e) => ({ text: s.text, pair: s.pair, error: String(e.message || e) }));
    if (s.truncation) r.truncation = s.truncation;
    if (s.padding) r.padding = s.padding;
    out.push(r);
  }
  return out;
}

async function main() {
  const tk = buildTokenizer();
  const text = JSON.stringify(tk, null, 1) + '\n';
  const recs = (await records(text)).map((r) => JSON.stringify(r));
  // The same tokenizer as the library saves it today (merges as pairs,
  // byte_fallback, ignore_merges, use_regex), and with the converter's pattern.
  const tmp = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'clip-')), 'tokenizer.json');
  Tokenizer.fromString(text).save(tmp);
  const modern = fs.readFileSync(tmp, 'utf8');
  const conv = JSON.parse(text);
  conv.pre_tokenizer.pretokenizers[0].pattern.Regex = converterPattern;
  for (const [what, json] of [['the saved file', modern], ['the converter pattern', JSON.stringify(conv)]]) {
    const recs2 = (await records(json)).map((r) => JSON.stringify(r));
    for (let i = 0; i < recs.length; i++) {
      if (recs[i] !== recs2[i]) throw new Error(`${what} disagrees on line ${i + 1}`);
    }
  }
  const unk = tk.model.vocab['<|endoftext|>'];
  for (const r of recs) {
    // Every byte is a token: the unk token appears only where the text has it.
    const j = JSON.parse(r);
    if (!/endoftext/i.test(j.text + (j.pair || '')) && (j.ids_no_special || []).includes(unk)) throw new Error(`unk in ${r}`);
  }
  fs.writeFileSync(path.join(dir, 'clip-tokenizer.json'), text);
  writeGz('clip-tokenizer.modern.json.gz', modern);
  writeGz('golden-clip.jsonl.gz', recs.join('\n') + '\n');
  console.log(`clip-tokenizer.json: ${Object.keys(tk.model.vocab).length} tokens, ${tk.model.merges.length} merges, ${text.length} bytes`);
  console.log(`golden-clip.jsonl.gz: ${recs.length} lines`);
}

main().catch((e) => { console.error(e); process.exit(1); });
