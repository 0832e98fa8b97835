#!/usr/bin/python3
"""A Llama-family model's inference in PyTorch, beside `attn bench
prompt|decode|load --model DIR`.

    /usr/bin/python3 tools/bench/torch_llama.py --write DIR   # random-weight SmolLM2-135M-shaped folder
    /usr/bin/python3 tools/bench/torch_llama.py DIR           # time PyTorch on it
    /usr/bin/python3 tools/bench/torch_llama.py DIR --train   # a fine-tuning step instead

--write makes DIR a HuggingFace Llama folder with SmolLM2-135M's shape
(vocabulary 49152, hidden 576, 30 layers, 9 query heads over 3 key/value
heads of 64, MLP 1536, tied embeddings, rope_theta 100000) and random
weights: config.json, model.safetensors (F32, LlamaForCausalLM's names) and,
for the load comparison, model.pt (torch.save of the same state dict).

Timing prints one JSON line per measurement, with the fields of `attn bench
--json`: load (torch.load of model.pt), prompt (128 tokens through the
model, filling a KV cache, the last position's logits), decode (one token
with 16 and with 1,000 tokens cached; the cache is preallocated). The model
is written in plain torch after HF's LlamaForCausalLM (no transformers
package here): RMSNorm, rotary embeddings (rotate half), grouped-query
attention with the key/value heads expanded as HF's repeat_kv does, SwiGLU;
inference mode, float32, 2 threads unless --threads says otherwise.
"""

import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

V, C, L, H, KV, D, I, P, THETA, EPS = 49152, 576, 30, 9, 3, 64, 1536, 8192, 100000.0, 1e-5


def shapes():
    s = {"model.embed_tokens.weight": [V, C], "model.norm.weight": [C]}
    for i in range(L):
        p = f"model.layers.{i}."
        s.update({p + "input_layernorm.weight": [C], p + "post_attention_layernorm.weight": [C],
                  p + "self_attn.q_proj.weight": [H * D, C], p + "self_attn.k_proj.weight": [KV * D, C],
                  p + "self_attn.v_proj.weight": [KV * D, C], p + "self_attn.o_proj.weight": [C, H * D],
                  p + "mlp.gate_proj.weight": [I, C], p + "mlp.up_proj.weight": [I, C], p + "mlp.down_proj.weight": [C, I]})
    return s


def write(d):
    torch.manual_seed(0)
    sd = {n: (torch.ones(s) if n.endswith("norm.weight") else torch.randn(s) * 0.02) for n, s in shapes().items()}
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": V, "hidden_size": C,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV,
           "head_dim": D, "hidden_act": "silu", "max_position_embeddings": P, "rms_norm_eps": EPS, "rope_theta": THETA,
           "rope_scaling": None, "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2}
    save_folder(d, sd, cfg)


def save_folder(d, sd, cfg, pt=True):
    """Write the state dict sd as d/model.safetensors (F32, names sorted),
    cfg as d/config.json and, when pt, sd as d/model.pt (torch.save)."""
    os.makedirs(d, exist_ok=True)
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
    if pt:
        torch.save(sd, os.path.join(d, "model.pt"))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"wrote {d}: {off / 1e6:.0f} MB of weights")


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rotate_half(x):
    return torch.cat((-x[..., D // 2:], x[..., :D // 2]), dim=-1)


class Model:
    def __init__(self, sd):
        self.p = sd
        self.k = torch.zeros(L, KV, P, D)
        self.v = torch.zeros(L, KV, P, D)
        self.n = 0
        self.inv = 1.0 / (THETA ** (torch.arange(0, D, 2).float() / D))

    def step(self, ids):
        """Run new tokens (1-D ids) through the model, extending the cache;
        return the last position's logits."""
        p, T, n = self.p, len(ids), self.n
        f = torch.arange(n, n + T).float()[:, None] * self.inv[None, :]
        emb = torch.cat((f, f), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = p["model.embed_tokens.weight"][ids]
        for i in range(L):
            l = f"model.layers.{i}."
            a = rms(x, p[l + "input_layernorm.weight"])
            q = (a @ p[l + "self_attn.q_proj.weight"].t()).view(T, H, D).transpose(0, 1)
            k = (a @ p[l + "self_attn.k_proj.weight"].t()).view(T, KV, D).transpose(0, 1)
            v = (a @ p[l + "self_attn.v_proj.weight"].t()).view(T, KV, D).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            self.k[i, :, n:n + T] = k
            self.v[i, :, n:n + T] = v
            K = self.k[i, :, :n + T].repeat_interleave(H // KV, dim=0)
            Vv = self.v[i, :, :n + T].repeat_interleave(H // KV, dim=0)
            att = (q @ K.transpose(-1, -2)) / math.sqrt(D)
            if T > 1:
                mask = torch.ones(T, n + T, dtype=torch.bool).tril(n)
                att = att.masked_fill(~mask, float("-inf"))
            y = (att.softmax(-1) @ Vv).transpose(0, 1).reshape(T, H * D)
            x = x + y @ p[l + "self_attn.o_proj.weight"].t()
            m = rms(x, p[l + "post_attention_layernorm.weight"])
            g = F.silu(m @ p[l + "mlp.gate_proj.weight"].t()) * (m @ p[l + "mlp.up_proj.weight"].t())
            x = x + g @ p[l + "mlp.down_proj.weight"].t()
        self.n += T
        return rms(x[-1:], p["model.norm.weight"]) @ p["model.embed_tokens.weight"].t()


def train_step_fn(sd, batch, t):
    """One fine-tuning step as attn bench train-llama runs it: forward over
    batch windows of t random tokens, cross-entropy, backward, clipping to
    norm 1, AdamW (weight decay 0.1 on matrices)."""
    p = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    decay = [v for v in p.values() if v.dim() >= 2]
    rest = [v for v in p.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-5, betas=(0.9, 0.99), eps=1e-8)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, V, (batch, t), generator=g)
    targets = torch.randint(0, V, (batch, t), generator=g)
    f = torch.arange(t).float()[:, None] * (1.0 / (THETA ** (torch.arange(0, D, 2).float() / D)))[None, :]
    emb = torch.cat((f, f), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.ones(t, t, dtype=torch.bool).tril()

    def step():
        opt.zero_grad(set_to_none=True)
        x = p["model.embed_tokens.weight"][ids]
        for i in range(L):
            l = f"model.layers.{i}."
            a = rms(x, p[l + "input_layernorm.weight"])
            q = (a @ p[l + "self_attn.q_proj.weight"].t()).view(batch, t, H, D).transpose(1, 2)
            k = (a @ p[l + "self_attn.k_proj.weight"].t()).view(batch, t, KV, D).transpose(1, 2)
            v = (a @ p[l + "self_attn.v_proj.weight"].t()).view(batch, t, KV, D).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            att = ((q @ k.transpose(-1, -2)) / math.sqrt(D)).masked_fill(~mask, float("-inf"))
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(batch, t, H * D)
            x = x + y @ p[l + "self_attn.o_proj.weight"].t()
            m = rms(x, p[l + "post_attention_layernorm.weight"])
            gg = F.silu(m @ p[l + "mlp.gate_proj.weight"].t()) * (m @ p[l + "mlp.up_proj.weight"].t())
            x = x + gg @ p[l + "mlp.down_proj.weight"].t()
        logits = rms(x, p["model.norm.weight"]) @ p["model.embed_tokens.weight"].t()
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
    return step


def timed(reps, fn, setup=lambda: None):
    setup()
    fn()
    ts = []
    for _ in range(reps):
        setup()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--write", action="store_true", help="write the random-weight folder instead of timing")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--train", action="store_true", help="time fine-tuning steps (--batch windows of --t tokens) instead")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--t", type=int, default=128)
    args = ap.parse_args()
    if args.write:
        write(args.dir)
        return
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_bench import malloc_setting, openblas_core
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, OpenBLAS {openblas_core()}, malloc {malloc_setting()}", file=sys.stderr)
    path = os.path.join(args.dir, "model.pt")
    if args.train:
        step = train_step_fn(torch.load(path), args.batch, args.t)
        step()  # the optimizer's moments are allocated by the first step
        t = timed(args.reps, step)
        print(json.dumps({"bench": "train-llama", "impl": "pytorch", "batch": args.batch, "t": args.t, "ms": t * 1e3, "tokens_per_s": args.batch * args.t / t}))
        return
    time_inference(path, Model, V, args.reps)


def time_inference(path, build, vocab, reps):
    """Print the JSON lines of torch.load(path), a 128-token prompt and one
    decoded token with 16 and 1,000 cached, for the model build(state dict)
    returns: its step(ids) runs ids after its n cached positions."""
    t0 = time.perf_counter()
    torch.load(path)  # the process's first load, its memory faulted in fresh
    first = time.perf_counter() - t0
    t = timed(3, lambda: torch.load(path))
    print(json.dumps({"bench": "load", "impl": "pytorch", "ms": t * 1e3, "first_ms": first * 1e3}))
    m = build(torch.load(path))
    with torch.inference_mode():
        prompt = torch.arange(128) % vocab

        def reset():
            m.n = 0
        t = timed(reps, lambda: m.step(prompt), reset)
        print(json.dumps({"bench": "prompt", "impl": "pytorch", "tokens": 128, "ms": t * 1e3, "tokens_per_s": 128 / t}))
        for cached in (16, 1000):
            def to_cached(c=cached):
                m.n = c
            t = timed(reps * 3, lambda: m.step(torch.tensor([1])), to_cached)
            print(json.dumps({"bench": "decode", "impl": "pytorch", "cached": cached, "ms": t * 1e3, "tokens_per_s": 1 / t}))


if __name__ == "__main__":
    main()
