"""A chat client's conversation against attn serve's /v1/chat/completions:
ten turns, each a user's turn of 50 random words and a greedy reply of 24
tokens, every request carrying the whole conversation as OpenAI's clients
send it. Prints each turn's seconds. With --folder DIR it first writes the
tokenizer and chat template that chat_turns.sh serves beside the random
weights (a letters-only BPE vocabulary the size of the model's).

    /usr/bin/python3 tools/bench/chat_turns.py http://127.0.0.1:8099
"""

import argparse
import itertools
import json
import random
import string
import time
import urllib.request


def write_folder(d, vocab_size):
    letters = string.ascii_lowercase
    pieces = ["<unk>", "<s>", "</s>", "\u2581"] + list(letters)
    names = ("\u2581" + "".join(t) for n in itertools.count(1) for t in itertools.product(letters, repeat=n))
    while len(pieces) < vocab_size - 2:
        pieces.append(next(names))
    pieces += ["<|im_start|>", "<|im_end|>"]
    special = [0, 1, 2, vocab_size - 2, vocab_size - 1]
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "pre_tokenizer": None, "post_processor": None,
        "added_tokens": [{"id": i, "content": pieces[i], "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for i in special],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": {p: i for i, p in enumerate(pieces)}, "merges": []},
    }
    json.dump(tok, open(f"{d}/tokenizer.json", "w"))
    template = ("{%- for message in messages %}{{- '<|im_start|>' + message.role + ' ' + message.content + '<|im_end|>' }}{%- endfor %}"
                "{%- if add_generation_prompt %}{{- '<|im_start|>assistant ' }}{%- endif %}")
    json.dump({"eos_token": "<|im_end|>", "chat_template": template}, open(f"{d}/tokenizer_config.json", "w"))


def converse(url):
    rng = random.Random(1)
    msgs = [{"role": "system", "content": "answer briefly"}]
    times = []
    for _ in range(10):
        words = " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 3))) for _ in range(50))
        msgs.append({"role": "user", "content": words})
        body = json.dumps({"messages": msgs, "temperature": 0, "max_tokens": 24}).encode()
        t = time.time()
        req = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
        r = json.load(urllib.request.urlopen(req))
        times.append(time.time() - t)
        msgs.append({"role": "assistant", "content": r["choices"][0]["message"]["content"]})
    print(f"conversation of {r['usage']['prompt_tokens']} tokens at the last turn; seconds a turn: " + " ".join(f"{x:.2f}" for x in times))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?")
    ap.add_argument("--folder")
    ap.add_argument("--vocab", type=int, default=49152)
    a = ap.parse_args()
    if a.folder:
        write_folder(a.folder, a.vocab)
    if a.url:
        converse(a.url)
