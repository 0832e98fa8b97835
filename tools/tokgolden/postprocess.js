// postprocess.js writes tokenizer/testdata/postprocess.json: small
// tokenizers that exercise RoBERTa's and BERT's post-processors on a pair
// without their special tokens, a Sequence post-processor whose template comes before a
// ByteLevel one, and batch-longest padding, with the ids, type ids and
// attention masks HuggingFace's tokenizers library gives them.
//
// Usage (from tools/tokgolden): npm install && node postprocess.js
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const texts = [['hi', null], ['hello there my friend', null], ['a cat', 'the dog'], ['x', 'y z']];
const chars = [...new Set([...texts.flat().filter(Boolean).join(''), ' '])].sort();
const vocab = { '[UNK]': 0, '[PAD]': 1, '<s>': 2, '</s>': 3, '[CLS]': 4, '[SEP]': 5 };
for (const ch of chars) {
  for (const t of [ch, '##' + ch]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
}
const special = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const tok = (post, padding) => ({
  version: '1.0', truncation: null, padding,
  added_tokens: [special('[UNK]', 0), special('[PAD]', 1), special('<s>', 2), special('</s>', 3), special('[CLS]', 4), special('[SEP]', 5)],
  normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: post, decoder: null,
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
});
const template = {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
  pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
    { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
  special_tokens: { '[CLS]': { id: '[CLS]', ids: [4], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [5], tokens: ['[SEP]'] } },
};
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const tokenizers = {
  roberta: tok({ type: 'RobertaProcessing', sep: ['</s>', 3], cls: ['<s>', 2], trim_offsets: true, add_prefix_space: false }, null),
  bert: tok({ type: 'BertProcessing', sep: ['[SEP]', 5], cls: ['[CLS]', 4] }, null),
  template_then_bytelevel: tok({ type: 'Sequence', processors: [template, byteLevel] }, null),
  batch_longest: tok(template, { strategy: 'BatchLongest', direction: 'Right', pad_to_multiple_of: 4, pad_id: 1, pad_type_id: 0, pad_token: '[PAD]' }),
};

(async () => {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'post-'));
  const expected = {};
  for (const [name, t] of Object.entries(tokenizers)) {
    const file = path.join(dir, name + '.json');
    fs.writeFileSync(file, JSON.stringify(t));
    const tk = Tokenizer.fromFile(file);
    const out = (e) => ({ ids: e.getIds(), type_ids: e.getTypeIds(), attention_mask: e.getAttentionMask() });
    expected[name] = { with_special: [], without_special: [] };
    for (const [a, b] of texts) {
      expected[name].with_special.push(out(await tk.encode(a, b, { addSpecialTokens: true })));
      expected[name].without_special.push(out(await tk.encode(a, b, { addSpecialTokens: false })));
    }
    const singles = texts.filter(([, b]) => b === null).map(([a]) => a);
    expected[name].batch = (await tk.encodeBatch(singles, { addSpecialTokens: true })).map(out);
  }
  const version = require('tokenizers/package.json').version;
  const out = { source: `HuggingFace tokenizers (npm package tokenizers ${version}), tools/tokgolden/postprocess.js`, texts, tokenizers, expected };
  fs.writeFileSync(path.join(__dirname, '..', '..', 'tokenizer', 'testdata', 'postprocess.json'), JSON.stringify(out, null, 1) + '\n');
})();
