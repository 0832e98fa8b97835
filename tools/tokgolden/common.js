// common.js holds what golden.js and clip.js share: the output folder, the
// gzip writer and the record of one encoding. It reads nothing on load.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const dir = path.join(__dirname, '..', '..', 'tokenizer', 'testdata');

// writeGz writes text to dir/name gzipped (level 9, no name or time, so
// reruns give the same bytes).
function writeGz(name, text) {
  fs.writeFileSync(path.join(dir, name), zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
}

// record is one golden line: what tok (a Tokenizer) gives text (and pair,
// when given) with and without special tokens, and decodes back.
async function record(tok, text, pair) {
  const enc = pair === undefined ? await tok.encode(text) : await tok.encode(text, pair);
  const noSpecial = pair === undefined
    ? await tok.encode(text, null, { addSpecialTokens: false })
    : await tok.encode(text, pair, { addSpecialTokens: false });
  const ids = enc.getIds();
  const r = {
    text,
    ids,
    tokens: enc.getTokens(),
    offsets: enc.getOffsets(),
    type_ids: enc.getTypeIds(),
    special_tokens_mask: enc.getSpecialTokensMask(),
    attention_mask: enc.getAttentionMask(),
    ids_no_special: noSpecial.getIds(),
    decoded: await tok.decode(ids, false),
    decoded_skip_special: await tok.decode(ids, true),
  };
  if (pair !== undefined) r.pair = pair;
  return r;
}

module.exports = { dir, record, writeGz };
