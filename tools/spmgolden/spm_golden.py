#!/usr/bin/python3
"""Trains small SentencePiece models and records what SentencePiece does with them.

Writes tokenizer/testdata/spm/: the .model files and, for each, a golden
golden-<name>.jsonl.gz that tokenizer/spm_test.go compares attn against.
Every line is one JSON object, one of:

  {"text": t, "ids": [...], "pieces": [...], "offsets": [[b, e], ...], "decoded": s}
      sp.encode(t, out_type=int) and (out_type=str), the pieces' spans in the
      original text in code points (from out_type="immutable_proto"), and
      sp.decode(ids).
  {"decode_ids": [...], "decoded": s}          sp.decode(ids) of random ids
  {"decode_pieces": [...], "decoded": s}       sp.decode(pieces) of random pieces

Run from anywhere with Debian's python3-sentencepiece (0.1.97):
    /usr/bin/python3 tools/spmgolden/spm_golden.py
Training uses one thread and fixed seeds; the committed files are what the
tests read, so rerunning is only needed to change them.
"""

import gzip
import json
import os
import random
import shutil
import tempfile
import unicodedata

import sentencepiece as spm

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tokenizer", "testdata", "spm")
DATA = os.path.join(ROOT, "data", "multi30k")


def read_lines(name, n=None, skip=0):
    with gzip.open(os.path.join(DATA, name), "rt", encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    lines = lines[skip:]
    return lines if n is None else lines[:n]


# ---------------------------------------------------------------- rule files

def write_rules(path):
    """A small normalization_rule_tsv: NFKC for a few blocks, a few sequences
    that compose, and nmt_nfkc-style whitespace and control-character rules.
    It keeps the models small while exercising the same precompiled trie."""
    rules = {}
    blocks = [range(0xFF01, 0xFF5F), range(0xFF61, 0xFFA0), range(0x2460, 0x2474), range(0xFB00, 0xFB07),
              [0x00A0, 0x00B2, 0x00BD, 0x2075, 0x2122, 0x2126, 0x212B, 0x2163, 0x3000, 0x2026]]
    for block in blocks:
        for c in block:
            n = unicodedata.normalize("NFKC", chr(c))
            if n != chr(c):
                rules[(c,)] = [ord(x) for x in n]
    for s in ["e\u0301", "a\u0308", "o\u0308", "u\u0308", "A\u030a", "\uff76\uff9e", "\uff8a\uff9f"]:
        rules[tuple(map(ord, s))] = [ord(x) for x in unicodedata.normalize("NFKC", s)]
    for c in list(range(0x01, 0x09)) + [0x0B] + list(range(0x0E, 0x20)) + [0x7F]:
        rules[(c,)] = []
    for c in [0x09, 0x0A, 0x0C, 0x0D, 0x200B, 0xFEFF]:
        rules[(c,)] = [0x20]
    with open(path, "w") as f:
        for src, trg in sorted(rules.items()):
            f.write(" ".join("%04X" % c for c in src) + "\t" + " ".join("%04X" % c for c in trg) + "\n")


def write_denormalization_rules(path):
    """Rules applied to decoded text: an apostrophe becomes a typographic one,
    and "fi" a ligature (a two-character key)."""
    with open(path, "w") as f:
        f.write("0027\t2019\n")
        f.write("0066 0069\tFB01\n")


# ------------------------------------------------- editing a model's protobuf

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return n, i


def _fields(b):
    """Yields (number, wire type, the field's bytes, its payload) of a message."""
    i = 0
    while i < len(b):
        start = i
        key, i = _read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            _, i = _read_varint(b, i)
            payload = None
        elif wt == 1:
            i += 8
            payload = None
        elif wt == 5:
            i += 4
            payload = None
        elif wt == 2:
            n, i = _read_varint(b, i)
            payload = b[i:i + n]
            i += n
        else:
            raise ValueError("groups are not expected in a model")
        yield num, wt, b[start:i], payload


def _field(num, payload):
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def edit_model(data, piece_types=None, normalizer_extra=b""):
    """Returns the ModelProto data with some pieces' types changed (appending
    the type field: the last one wins) and normalizer_extra appended as a
    second normalizer_spec, which protobuf merges into the first."""
    piece_types = piece_types or {}
    out = bytearray()
    k = 0
    for num, wt, raw, payload in _fields(data):
        if num == 1 and wt == 2:
            if k in piece_types:
                raw = _field(1, payload + _varint(3 << 3 | 0) + _varint(piece_types[k]))
            k += 1
        out += raw
    if normalizer_extra:
        out += _field(3, normalizer_extra)
    return bytes(out)


# ---------------------------------------------------------------- test texts

TRICKY = [
    "", " ", "   ", "\t", "\n", " \t\n ", "a", " a", "a ", "  a  b  ", "a\tb", "a\nb", "a\r\nb", "a \n b",
    "Ein Hund läuft.", "  Ein   Hund   läuft.  ", "Zwei Männer\tim Freien\nund ein Kind.",
    "ｱ", "ｱｲｳ ｶﾞ ﾊﾟ", "①②③ ⑳", "ﬁ ﬂ ﬃ ﬁsh", "Ｈｅｌｌｏ　Ｗｏｒｌｄ！", "½ ² ⁵ ™ Ω Å Ⅳ …",
    "e\u0301 a\u0308 o\u0308 u\u0308 A\u030a", "é è ê ë à â ä ö ü ß ç ñ", "Ärger Öl Übel",
    "😀", "ein 😀 Hund 👩‍👧 🇩🇪", "中文 日本語 한국어", "Жук на траве", "ἀγαθός",
    "\u00a0a\u00a0b\u00a0", "a\u200bb", "\ufeffa", "a\u3000b", "a\x01b\x7fc", "\x01", "\x01 \x02",
    "▁", "▁▁a", "a▁b", "<unk>", "<s> </s>", "<sep>", "a<sep>b", " <sep> ", "<2de> Hallo", "<0x41>",
    "0", "123", "2019 kamen 42 Hunde", "3.14159 1,000,000", "12a34", "x⁵ 2²",
    "Don't stop", "l'homme 'quoted'", "fi fish find", "ﬁnd", "a\u0301\u0302\u0303", "\u0308",
    "Ein" * 30, "ab" * 100, " ".join(["Hund"] * 40),
]

ATOMS = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u200b", "\u3000", "\ufeff", "\x01", "\x7f",
         "ä", "ö", "ü", "ß", "é", "e\u0301", "\u0308", "ｱ", "ｶﾞ", "①", "ﬁ", "Ａ", "ｂ", "½", "™", "Ω", "Å",
         "😀", "👩‍👧", "🇩🇪", "中", "文", "Ж", "ж", "λ", "▁", "<unk>", "<s>", "</s>", "<sep>", "<2de>",
         "<0x41>", "0", "7", "42", "1999", ".", ",", "!", "?", "'", "\"", "-", "(", ")", "€", "$", "%", "&",
         "a", "e", "n", "s", "t", "X", "Q", "z"]


def random_texts(rng, words, n):
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 14)):
            r = rng.random()
            if r < 0.45:
                parts.append(rng.choice(words))
            elif r < 0.9:
                parts.append(rng.choice(ATOMS))
            else:
                parts.append(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0x2FF),
                                             rng.randint(0x370, 0x52F), rng.randint(0x3040, 0x30FF),
                                             rng.randint(0x4E00, 0x4FFF), rng.randint(0x1F300, 0x1F64F)])))
        out.append("".join(parts))
    return out


# ------------------------------------------------------------------- goldens

def char_offset(text, b):
    return len(text.encode("utf-8")[:b].decode("utf-8"))


def golden(sp, texts, rng):
    rows = []
    for t in texts:
        ids = sp.encode(t, out_type=int)
        pieces = sp.encode(t, out_type=str)
        proto = sp.encode(t, out_type="immutable_proto")
        assert [p.id for p in proto.pieces] == ids and [p.piece for p in proto.pieces] == pieces
        rows.append({"text": t, "ids": ids, "pieces": pieces,
                     "offsets": [[p.begin, p.end] for p in proto.pieces], "decoded": sp.decode(ids)})
    n = sp.get_piece_size()
    special = [i for i in range(n) if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i)]
    for _ in range(150):
        ids = []
        for _ in range(rng.randint(0, 16)):
            ids.append(rng.choice(special) if special and rng.random() < 0.3 else rng.randrange(n))
        rows.append({"decode_ids": ids, "decoded": sp.decode(ids)})
    others = ["▁Haus", "xyz", "▁", "▁▁", "<0xZZ>", "<0x41>", "<0xC3>", "<0xA4>", "<unk>", "<s>", "</s>", "ä"]
    for _ in range(100):
        pieces = []
        for _ in range(rng.randint(1, 12)):
            pieces.append(rng.choice(others) if rng.random() < 0.3 else sp.id_to_piece(rng.randrange(n)))
        rows.append({"decode_pieces": pieces, "decoded": sp.decode(pieces)})
    return rows


def write_jsonl_gz(path, rows):
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
            for r in rows:
                f.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()
    cwd = os.getcwd()
    # Models record the paths they were trained from: relative ones keep the
    # files the same from run to run.
    os.chdir(tmp)
    try:
        corpus = "corpus.txt"
        train = read_lines("train.de.gz", 3000) + read_lines("train.en.gz", 3000)
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(train) + "\n")
        rules = "rules.tsv"
        write_rules(rules)
        denorm = "denorm.tsv"
        write_denormalization_rules(denorm)

        common = dict(input=corpus, num_threads=1, minloglevel=2, shuffle_input_sentence=False)
        models = {
            # The default normalizer (nmt_nfkc), as Marian's source.spm and target.spm.
            "unigram-nmt": dict(model_type="unigram", vocab_size=800),
            # Score-ordered BPE with a small custom rule set, no dummy prefix, and
            # rules applied when decoding.
            "bpe-rules": dict(model_type="bpe", vocab_size=600, normalization_rule_tsv=rules,
                              add_dummy_prefix=False, denormalization_rule_tsv=denorm),
            # Byte fallback, user-defined and control symbols, digits split, no
            # normalization rules, a custom unknown surface.
            "unigram-bytes": dict(model_type="unigram", vocab_size=700, byte_fallback=True,
                                  user_defined_symbols=["<sep>", "Hund", "ing"], control_symbols=["<2de>"],
                                  split_digits=True, normalization_rule_name="identity", unk_surface="<?>"),
            # Whitespace as a suffix, extra spaces kept, byte fallback, BPE.
            "bpe-suffix": dict(model_type="bpe", vocab_size=500, treat_whitespace_as_suffix=True,
                               remove_extra_whitespaces=False, byte_fallback=True,
                               user_defined_symbols=["<sep>"], normalization_rule_tsv=rules),
        }
        for name, args in models.items():
            spm.SentencePieceTrainer.train(model_prefix=name, **common, **args)

        def model_bytes(name):
            with open(name + ".model", "rb") as f:
                return f.read()

        # Variants SentencePiece's trainer does not write, made by editing the protobuf.
        variants = {}
        bpe = spm.SentencePieceProcessor(model_proto=model_bytes("bpe-rules"))
        merged = [i for i in range(bpe.get_piece_size()) if len(bpe.id_to_piece(i)) >= 2 and not bpe.is_control(i)
                  and not bpe.is_unknown(i)]
        # Unused merged pieces make BPE split them back into the pieces they came from.
        variants["bpe-unused"] = edit_model(model_bytes("bpe-rules"),
                                            piece_types={i: 5 for i in random.Random(7).sample(merged, 40)})
        uni = spm.SentencePieceProcessor(model_proto=model_bytes("unigram-bytes"))
        normal = [i for i in range(uni.get_piece_size()) if not (uni.is_control(i) or uni.is_unknown(i)
                                                                  or uni.is_byte(i))]
        # Spaces left as they are (escape_whitespaces false), in a second
        # normalizer_spec that protobuf merges, and unused unigram pieces.
        variants["unigram-noescape"] = edit_model(model_bytes("unigram-bytes"),
                                                  piece_types={i: 5 for i in random.Random(8).sample(normal, 40)},
                                                  normalizer_extra=_varint(5 << 3 | 0) + _varint(0))

        files = {}
        for name in models:
            files[name] = model_bytes(name)
        files.update(variants)

        words = sorted(set(w for l in train[:500] for w in l.split()))
        test = read_lines("test_2016_flickr.de.gz", 150) + read_lines("test_2016_flickr.en.gz", 150)
        for name, data in files.items():
            if name == "unigram-nmt":
                # The nmt_nfkc charsmap is most of the file; gzip keeps it in the tens of KB.
                path = os.path.join(OUT, name + ".model.gz")
                with open(path, "wb") as raw:
                    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
                        f.write(data)
            else:
                with open(os.path.join(OUT, name + ".model"), "wb") as f:
                    f.write(data)
            sp = spm.SentencePieceProcessor(model_proto=data)
            rng = random.Random(name)
            texts = TRICKY + test + random_texts(rng, words, 250)
            write_jsonl_gz(os.path.join(OUT, "golden-" + name + ".jsonl.gz"), golden(sp, texts, rng))
            print(name, len(data), "bytes,", sp.get_piece_size(), "pieces")
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
