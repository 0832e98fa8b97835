#!/usr/bin/python3
"""Writes model/marian/testdata/tokenizer/: a tiny Marian tokenizer folder and
what HuggingFace's MarianTokenizer makes of it.

The folder holds source.spm (unigram, trained on English), target.spm
(unigram, trained on German) and vocab.json, the one vocabulary both sides
share, as in Helsinki-NLP's opus-mt folders: "</s>" 0, "<unk>" 1, two language
codes, the pieces of source.spm then the new ones of target.spm, and "<pad>"
last. Six pieces are left out on purpose, so that they map to "<unk>".

transformers is not installed, so the class Marian below reimplements the few
lines of MarianTokenizer (transformers v4.34 to v4.5x,
src/transformers/models/marian/tokenization_marian.py) and of
PreTrainedTokenizer (tokenization_utils.py) that encoding and decoding a
sentence run through; see its comments.

golden.jsonl.gz has one JSON object a line:
  {"text": t, "ids": [...], "decoded": s}   tokenizer(t).input_ids, and
                                            tokenizer.decode(ids, skip_special_tokens=True)
  {"decode_ids": [...], "decoded": s}       decode of random ids

Run with Debian's python3-sentencepiece (0.1.97):
    /usr/bin/python3 tools/spmgolden/marian_golden.py
"""

import json
import os
import random
import re
import shutil
import sys
import tempfile

import sentencepiece as spm

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spm_golden import ROOT, TRICKY, random_texts, read_lines, write_jsonl_gz, write_rules  # noqa: E402

OUT = os.path.join(ROOT, "model", "marian", "testdata", "tokenizer")
SPIECE_UNDERLINE = "\u2581"


class Marian:
    """MarianTokenizer with its defaults: unk "<unk>", eos "</s>", pad "<pad>",
    one shared vocabulary, no extra special tokens."""

    language_code_re = re.compile(">>.+<<")
    special_tokens = ["</s>", "<unk>", "<pad>"]

    def __init__(self, folder):
        self.spm_source = spm.SentencePieceProcessor(model_file=os.path.join(folder, "source.spm"))
        self.spm_target = spm.SentencePieceProcessor(model_file=os.path.join(folder, "target.spm"))
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.special_ids = {self.encoder.get(t, self.encoder["<unk>"]) for t in self.special_tokens}

    # MarianTokenizer.remove_language_code and _tokenize.
    def remove_language_code(self, text):
        match = self.language_code_re.match(text)
        code = [match.group(0)] if match else []
        return code, self.language_code_re.sub("", text)

    def _tokenize(self, text):
        code, text = self.remove_language_code(text)
        return code + self.spm_source.encode(text, out_type=str)

    # PreTrainedTokenizer.tokenize: the special tokens are added tokens
    # (lstrip, rstrip and single_word false), split out of the text first;
    # the pieces between them are tokenized on their own, empty ones skipped.
    def tokenize(self, text):
        chunks = re.split("(" + "|".join(map(re.escape, self.special_tokens)) + ")", text)
        out = []
        for c in chunks:
            if not c:
                continue
            if c in self.special_tokens:
                out.append(c)
            else:
                out.extend(self._tokenize(c))
        return out

    # _convert_token_to_id and build_inputs_with_special_tokens (eos appended).
    def encode(self, text):
        unk = self.encoder["<unk>"]
        return [self.encoder.get(t, unk) for t in self.tokenize(text)] + [self.encoder["</s>"]]

    # decode(ids, skip_special_tokens=True): convert_ids_to_tokens drops the
    # special ids; _convert_id_to_token maps other unknown ids to "<unk>",
    # which _decode then drops as a special token; the rest goes to
    # convert_tokens_to_string. clean_up_tokenization_spaces is False.
    def decode(self, ids):
        tokens = [self.decoder.get(i, "<unk>") for i in ids if i not in self.special_ids]
        tokens = [t for t in tokens if t not in self.special_tokens]
        return self.convert_tokens_to_string(tokens) if tokens else ""

    # MarianTokenizer.convert_tokens_to_string, with the target spm.
    def convert_tokens_to_string(self, tokens):
        sp_model = self.spm_target
        current_sub_tokens = []
        out_string = ""
        for token in tokens:
            if token in self.special_tokens:
                out_string += sp_model.decode_pieces(current_sub_tokens) + token + " "
                current_sub_tokens = []
            else:
                current_sub_tokens.append(token)
        out_string += sp_model.decode_pieces(current_sub_tokens)
        out_string = out_string.replace(SPIECE_UNDERLINE, " ")
        return out_string.strip()


MARIAN_TEXTS = [
    ">>de<< A dog runs.", ">>en<<Ein Hund läuft.", "A >>de<< dog", ">>de<< a </s> b", "</s>", "</s></s>",
    "a<unk>b<pad>c", " <pad> ", ">>fr<< x >>de<< y", ">>", ">>de<", "<<de>>", "\n>>de<< x", ">>de\n<< x",
    "Ein Hund und eine Katze.", "A man is riding a bicycle.", "<s> text </s> more", "▁Haus", "Zwei Männer",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()
    cwd = os.getcwd()
    os.chdir(tmp)  # relative paths, which the models record, keep them reproducible
    try:
        rules = "rules.tsv"
        write_rules(rules)
        common = dict(model_type="unigram", vocab_size=400, normalization_rule_tsv=rules, num_threads=1,
                      minloglevel=2, shuffle_input_sentence=False)
        for name, data in [("source", "train.en.gz"), ("target", "train.de.gz")]:
            corpus = name + ".txt"
            with open(corpus, "w", encoding="utf-8") as f:
                f.write("\n".join(read_lines(data, 3000, skip=3000)) + "\n")
            spm.SentencePieceTrainer.train(input=corpus, model_prefix=name, **common)
            shutil.copyfile(name + ".model", os.path.join(OUT, name + ".spm"))
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp)

    src = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "source.spm"))
    tgt = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "target.spm"))
    omitted = {src.id_to_piece(i) for i in (4, 9, 30)} | {tgt.id_to_piece(i) for i in (4, 11, 40)}
    tokens = ["</s>", "<unk>", ">>de<<", ">>en<<"]
    seen = set(tokens)
    for sp in (src, tgt):
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if sp.is_control(i) or sp.is_unknown(i) or p in seen or p in omitted:
                continue
            seen.add(p)
            tokens.append(p)
    tokens.append("<pad>")
    with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(tokens)}, f, ensure_ascii=False, indent=0)
        f.write("\n")

    tok = Marian(OUT)
    rng = random.Random("marian")
    words = sorted(set(w for l in read_lines("train.de.gz", 300) + read_lines("train.en.gz", 300) for w in l.split()))
    texts = (MARIAN_TEXTS + TRICKY + read_lines("test_2016_flickr.en.gz", 100) + read_lines("test_2016_flickr.de.gz", 60)
             + random_texts(rng, words + [">>de<<", ">>en<<", "</s>", "<pad>", "<unk>"], 150))
    rows = []
    for t in texts:
        ids = tok.encode(t)
        rows.append({"text": t, "ids": ids, "decoded": tok.decode(ids)})
    n = len(tokens)
    for _ in range(150):
        ids = [rng.choice([rng.randrange(n), rng.randrange(n), rng.choice([0, 1, n - 1, n, n + 3, -1])])
               for _ in range(rng.randint(0, 14))]
        rows.append({"decode_ids": ids, "decoded": tok.decode(ids)})
    write_jsonl_gz(os.path.join(OUT, "golden.jsonl.gz"), rows)
    print(len(tokens), "tokens in vocab.json; left out:", sorted(omitted))


if __name__ == "__main__":
    main()
