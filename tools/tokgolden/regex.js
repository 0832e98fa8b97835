// regex.js writes tokenizer/testdata/regex-unicode.json: four tokenizers
// whose Split and Replace patterns use \s, \d, \w, \S, \W, ^, $, {,n} and a
// nested class (as CLIP's, DeepSeek's and BLOOM's tokenizer.json files do), texts with non-ASCII
// spaces and digits, accented letters and several lines, and the ids
// HuggingFace's tokenizers library gives them. The model is a WordPiece over
// single characters, so the ids show where the patterns split.
//
// Usage (from tools/tokgolden): npm install && node regex.js
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const texts = ['hi, there! you\u2026 \u3002ok', 'hello world', 'hello\u00a0world', 'hello\u3000world', 'a\u2003b', 'a\u000bb', 'a\u0085b', 'x  \t y',
  'na\u00efve caf\u00e9', '\u0663\u0664 apples 12', 'foo\nfoo', 'foo\nbar\nfoo', 'a \u00a0b', 'under_score x-y', 'end  '];
const chars = [...new Set([...texts.join(''), ' '])].sort();
const vocab = { '[UNK]': 0 };
for (const ch of chars) {
  for (const t of [ch, '##' + ch]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
}
const tok = (normalizer, pre) => ({
  version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer, pre_tokenizer: pre, post_processor: null,
  decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
});
const split = (pat, behavior = 'Isolated', invert = false) => ({ type: 'Split', pattern: { Regex: pat }, behavior, invert });
const tokenizers = {
  // CLIP's normalizer and split: \s inside and outside a class
  clip: tok({ type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
    split("'s|'t|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+", 'Removed', true)),
  // DeepSeek's \s? prefixes, and line anchors
  anchors: tok(null, { type: 'Sequence', pretokenizers: [split('\\s?[A-Za-z]+'), split('\\s+$'), split('o$'), split('^b')] }),
  // \d, \w, \S and \W
  classes: tok(null, { type: 'Sequence', pretokenizers: [split('\\d+'), split('\\w+'), split('\\S+'), split('\\W')] }),
  // BLOOM's split, a class nested in a negated class, and Ruby's {,n}
  bloom: tok(null, { type: 'Sequence', pretokenizers: [split(' ?[^(\\s|[.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c])]+'), split('l{,2}o')] }),
};

(async () => {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'regex-'));
  const expected = {};
  for (const [name, t] of Object.entries(tokenizers)) {
    const file = path.join(dir, name + '.json');
    fs.writeFileSync(file, JSON.stringify(t));
    const tk = Tokenizer.fromFile(file);
    expected[name] = [];
    for (const text of texts) {
      const e = await tk.encode(text, null, { addSpecialTokens: false });
      expected[name].push({ ids: e.getIds(), tokens: e.getTokens() });
    }
  }
  const version = require('tokenizers/package.json').version;
  const out = { source: `HuggingFace tokenizers (npm package tokenizers ${version}), tools/tokgolden/regex.js`, texts, tokenizers, expected };
  fs.writeFileSync(path.join(__dirname, '..', '..', 'tokenizer', 'testdata', 'regex-unicode.json'), JSON.stringify(out, null, 1) + '\n');
})();
