#!/usr/bin/python3
"""GPT-2 124M inference in PyTorch, beside `attn bench prompt|decode|load`.

    /usr/bin/python3 tools/bench/torch_gpt2.py --write DIR   # random-weight GPT-2 small folder
    /usr/bin/python3 tools/bench/torch_gpt2.py DIR           # time PyTorch on it

--write makes DIR a HuggingFace GPT-2 folder with GPT-2 small's real shape
(vocab 50257, 1024 positions, 768 wide, 12 layers, 12 heads) and random
weights (nanoGPT's init): config.json, model.safetensors (F32, GPT-2's own
names), tokenizer.json (GPT-2's, the repository's test copy, so attn serve
and attn generate run on it) and, for the load comparison, model.pt
(torch.save of the same state dict).

Timing prints one JSON line per measurement, with the fields of
`attn bench --json`: load (torch.load of model.pt, the file PyTorch users
load), prompt (a 128-token prompt through the model, filling a KV cache, the
last position's logits), decode (one token with 16 and with 1,000 tokens
cached; the cache is preallocated, so no torch.cat cost is counted), and
one token for each of 8 sequences with 128 cached, decoded together. The model
is written in plain torch after HF's GPT2LMHeadModel (no transformers package
here): Conv1D weights [in, out] applied with addmm, gelu_new, pre-LN, tied
lm_head; inference mode, float32, 2 threads unless --threads says otherwise.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys

import torch
import torch.nn.functional as F

C, L, H, V, P = 768, 12, 12, 50257, 1024


def shapes():
    s = {"wte.weight": [V, C], "wpe.weight": [P, C]}
    for i in range(L):
        h = f"h.{i}."
        s.update({h + "ln_1.weight": [C], h + "ln_1.bias": [C],
                  h + "attn.c_attn.weight": [C, 3 * C], h + "attn.c_attn.bias": [3 * C],
                  h + "attn.c_proj.weight": [C, C], h + "attn.c_proj.bias": [C],
                  h + "ln_2.weight": [C], h + "ln_2.bias": [C],
                  h + "mlp.c_fc.weight": [C, 4 * C], h + "mlp.c_fc.bias": [4 * C],
                  h + "mlp.c_proj.weight": [4 * C, C], h + "mlp.c_proj.bias": [C]})
    s.update({"ln_f.weight": [C], "ln_f.bias": [C]})
    return s


def write(d):
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    sd = {}
    for name, shape in shapes().items():
        if len(shape) == 2:
            std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02
            sd[name] = torch.randn(shape) * std
        else:
            sd[name] = torch.ones(shape) if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight" else torch.zeros(shape)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(sd):
        raw = sd[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(sd[name].shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
    torch.save(sd, os.path.join(d, "model.pt"))
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
           "vocab_size": V, "n_positions": P, "n_ctx": P, "n_embd": C, "n_layer": L, "n_head": H,
           "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    # GPT-2's own tokenizer (the repository's test copy), so that attn serve
    # and attn generate run on the folder (tools/bench/serve_load.sh).
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copyfile(os.path.join(here, "..", "..", "tokenizer", "testdata", "gpt2.json"), os.path.join(d, "tokenizer.json"))
    print(f"wrote {d}: {off / 1e6:.0f} MB of weights, config.json, tokenizer.json")


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class Model:
    def __init__(self, sd):
        self.p = sd
        self.k = torch.zeros(L, H, P, C // H)
        self.v = torch.zeros(L, H, P, C // H)
        self.n = 0

    def conv(self, x, name):
        return torch.addmm(self.p[name + ".bias"], x, self.p[name + ".weight"])

    def step(self, ids):
        """Run new tokens (1-D ids) through the model, extending the cache;
        return the last position's logits."""
        p, T, D, n = self.p, len(ids), C // H, self.n
        x = p["wte.weight"][ids] + p["wpe.weight"][n:n + T]
        for i in range(L):
            h = f"h.{i}."
            a = F.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], 1e-5)
            q, k, v = self.conv(a, h + "attn.c_attn").split(C, dim=1)
            self.k[i, :, n:n + T] = k.view(T, H, D).transpose(0, 1)
            self.v[i, :, n:n + T] = v.view(T, H, D).transpose(0, 1)
            q = q.view(T, H, D).transpose(0, 1)
            K, Vv = self.k[i, :, :n + T], self.v[i, :, :n + T]
            att = (q @ K.transpose(-1, -2)) / math.sqrt(D)
            if T > 1:
                mask = torch.ones(T, n + T, dtype=torch.bool).tril(n)
                att = att.masked_fill(~mask, float("-inf"))
            y = (att.softmax(-1) @ Vv).transpose(0, 1).reshape(T, C)
            x = x + self.conv(y, h + "attn.c_proj")
            m = F.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], 1e-5)
            x = x + self.conv(gelu_new(self.conv(m, h + "mlp.c_fc")), h + "mlp.c_proj")
        self.n += T
        x = F.layer_norm(x[-1:], (C,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
        return x @ p["wte.weight"].t()


class Batched(Model):
    """B sequences decoded together, one token each a step, as attn serve
    does (gpt.Model.StepBatch): the products take B rows, attention runs
    over each sequence's own cache."""

    def __init__(self, sd, B):
        super().__init__(sd)
        self.B = B
        self.k = torch.zeros(L, B, H, P, C // H)
        self.v = torch.zeros(L, B, H, P, C // H)

    def step(self, ids):
        p, B, D, n = self.p, self.B, C // H, self.n
        x = p["wte.weight"][ids] + p["wpe.weight"][n]
        for i in range(L):
            h = f"h.{i}."
            a = F.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], 1e-5)
            q, k, v = self.conv(a, h + "attn.c_attn").split(C, dim=1)
            self.k[i, :, :, n] = k.view(B, H, D)
            self.v[i, :, :, n] = v.view(B, H, D)
            K, Vv = self.k[i, :, :, :n + 1], self.v[i, :, :, :n + 1]
            att = (q.view(B, H, 1, D) @ K.transpose(-1, -2)) / math.sqrt(D)
            y = (att.softmax(-1) @ Vv).reshape(B, C)
            x = x + self.conv(y, h + "attn.c_proj")
            m = F.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], 1e-5)
            x = x + self.conv(gelu_new(self.conv(m, h + "mlp.c_fc")), h + "mlp.c_proj")
        self.n += 1
        x = F.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
        return x @ p["wte.weight"].t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--write", action="store_true", help="write the random-weight folder instead of timing")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    if args.write:
        write(args.dir)
        return
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_bench import malloc_setting, openblas_core
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, OpenBLAS {openblas_core()}, malloc {malloc_setting()}", file=sys.stderr)
    from torch_llama import time_inference, timed
    path = os.path.join(args.dir, "model.pt")
    time_inference(path, Model, V, args.reps)  # load, prompt, decode with 16 and 1,000 cached
    sd = torch.load(path)
    with torch.inference_mode():
        b = Batched(sd, 8)

        def to_128():
            b.n = 128
        t = timed(args.reps * 3, lambda: b.step(torch.ones(8, dtype=torch.long)), to_128)
        print(json.dumps({"bench": "decode", "impl": "pytorch", "cached": 128, "batch": 8, "ms": t * 1e3, "tokens_per_s": 8 / t}))


if __name__ == "__main__":
    main()
