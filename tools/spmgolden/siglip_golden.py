#!/usr/bin/python3
"""Writes tokenizer/testdata/siglip/: tokenizer_config.json (a SigLIP
tokenizer folder's, SiglipTokenizer, pad_token </s>) and golden.jsonl, what
HuggingFace's SiglipTokenizer makes of texts with that folder's model.

No model is written here: the folder's spiece.model is spm_golden.py's
tokenizer/testdata/spm/unigram-nmt.model.gz (the Go test unpacks it), so run
this after spm_golden.py. That model is a unigram SentencePiece model of 800
pieces (<unk> 0, <s> 1, </s> 2, no <pad>; not SigLIP's T5 ids) trained on the
first 3,000 German and 3,000 English lines of data/multi30k/train.{de,en}.gz,
with the default nmt_nfkc rules and dummy prefix.

transformers is not installed, so the class SiglipSlow below reimplements
the lines of SiglipTokenizer (transformers v4.4x,
src/transformers/models/siglip/tokenization_siglip.py) and of
PreTrainedTokenizer that encoding a text runs through, as the zero-shot
pipeline calls it (padding to max_length, truncation):

* tokenize: lowercase (do_lower_case), "▁" put before the text (any "▁" in
  it made a space);
* _tokenize: canonicalize_text (string.punctuation removed, \\s+ made one
  space, stripped), then the SentencePiece model with its dummy prefix off
  encodes "<unk>" + text, and the pieces of "<unk>" are dropped;
* build_inputs_with_special_tokens: </s> appended; truncation keeps it.

golden.jsonl has one JSON object a line: {"text", "max_length", "ids",
"lower"}, lower being Python's text.lower() (the unigram-nmt model maps
Greek letters to <unk>, so the ids alone would not show a final sigma).

Run with Debian's python3-sentencepiece (0.1.97):
    /usr/bin/python3 tools/spmgolden/siglip_golden.py
"""

import gzip
import json
import os
import re
import string

import sentencepiece as spm

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tokenizer", "testdata", "siglip")
SPIECE_UNDERLINE = "\u2581"


class SiglipSlow:
    def __init__(self, model_bytes, do_lower_case=True):
        # get_spm_processor merges NormalizerSpec(add_dummy_prefix=False) into
        # the model's; protobuf merges a second normalizer_spec (ModelProto
        # field 3) the same way: field 3 of it, add_dummy_prefix, a varint 0.
        no_prefix = model_bytes + bytes([0x1A, 0x02, 0x18, 0x00])
        self.sp = spm.SentencePieceProcessor(model_proto=no_prefix)
        self.lower = do_lower_case
        self.unk_len = len(self.sp.encode("<unk>"))
        self.eos = self.sp.piece_to_id("</s>")

    @staticmethod
    def canonicalize(text):
        text = text.translate(str.maketrans("", "", string.punctuation))
        text = re.sub(r"\s+", " ", text)
        return text.strip()

    def encode(self, text, max_length=None):
        if self.lower:
            text = text.lower()  # PreTrainedTokenizer.tokenize (no special tokens in these texts)
        text = SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " ")
        c = self.canonicalize(text)
        pieces = self.sp.encode("<unk>" + c, out_type=str)
        pieces = pieces[self.unk_len:] if len(pieces) >= self.unk_len else pieces
        ids = [self.sp.piece_to_id(p) for p in pieces]
        if max_length is not None and len(ids) + 1 > max_length:
            ids = ids[: max_length - 1]
        return ids + [self.eos]


TEXTS = [
    "a photo of a cat", "This is a photo of a dog.", "A man in an orange hat starring at something.",
    "Two young, White males are outside near many bushes.", "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nmixed", "punctuation!!! everywhere??? (yes) [really] {ok} \"quoted\" 'single'",
    "don't stop; it's 5:30 p.m. -- isn't it?", "UPPER CASE and MiXeD cAsE", "numbers 123 4567 89",
    "café naïve résumé", "emoji 😀 and symbols © ™ €", "a ▁ strange ▁▁ underline", "", "   ", "!!!",
    "- starts with punctuation", "ends with punctuation -", "hyphen-ated and under_scored words",
    "ﬁne ligature and ｆｕｌｌｗｉｄｔｈ", "a\u00a0no-break\u2003em space", "very " * 30 + "long",
    "日本語のテキスト", "Ελληνικά κείμενα", "x",
    "İSTANBUL'DA İyi", "ΟΔΟΣ ΣΊΣΥΦΟΣ'Σ Σ ΑΣ. ΑΣ.Β ΑΣ\u0301 ΑΣΑ ΑΣ'Α", "ΟΔΌΣ", "ᾼΣ ΣΣ",
]


def main():
    # The model: spm_golden.py's unigram-nmt (unigram, 800 pieces, nmt_nfkc
    # rules, dummy prefix), which the Go test unpacks as spiece.model.
    with gzip.open(os.path.join(ROOT, "tokenizer", "testdata", "spm", "unigram-nmt.model.gz"), "rb") as f:
        model = f.read()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>",
                   "model_max_length": 64, "model_input_names": ["input_ids"], "tokenizer_class": "SiglipTokenizer"},
                  f, indent=2, sort_keys=True)
        f.write("\n")
    tok = SiglipSlow(model)
    with open(os.path.join(OUT, "golden.jsonl"), "w", encoding="utf-8") as f:
        for t in TEXTS:
            for ml in (None, 8):
                f.write(json.dumps({"text": t, "max_length": ml or 0, "ids": tok.encode(t, ml), "lower": t.lower()},
                                   ensure_ascii=False) + "\n")
    print("wrote", OUT, len(TEXTS) * 2, "lines")


if __name__ == "__main__":
    main()
