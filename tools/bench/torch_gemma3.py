#!/usr/bin/python3
"""A Gemma 3 text model's inference in PyTorch, beside `attn bench
prompt|decode|load --model DIR` (tools/bench/llama.sh DIR gemma3-270m runs
the two alternately).

    /usr/bin/python3 tools/bench/torch_gemma3.py --write DIR   # random-weight Gemma 3 270M-shaped folder
    /usr/bin/python3 tools/bench/torch_gemma3.py DIR           # time PyTorch on it

--write makes DIR a HuggingFace Gemma3ForCausalLM folder (model_type
gemma3_text) with google/gemma-3-270m's shape (vocabulary 262144, hidden
640, 18 layers, 4 query heads over 1 key/value head of 256, MLP 2048, tied
embeddings; every 6th layer global with rope_theta 1e6, the others local:
a window of 512, rope_local_base_freq 10000) and random weights:
config.json, model.safetensors (F32, Gemma3ForCausalLM's names, norm
weights small offsets around 0) and, for the load comparison, model.pt
(torch.save of the same state dict).

Timing prints the JSON lines tools/bench/torch_llama.py prints: load
(torch.load of model.pt), prompt (128 tokens through the model, filling a
KV cache, the last position's logits), decode (one token with 16 and with
1,000 tokens cached; the cache, 4,096 positions a layer, is preallocated).
The model is written in plain torch after HF's Gemma3ForCausalLM (no
transformers package here), with the semantics of tools/golden/
torch_llama.py's forward_gemma: embeddings times sqrt(hidden) (a float32),
RMSNorm times 1 + weight, four norms a layer, q_norm and k_norm over each
head before the rotation (rotate half), scores times
query_pre_attn_scalar^-0.5, the key/value head expanded as HF's repeat_kv
does, GELU-tanh gated MLP. Local layers read only the cached keys within
their window (key j for query i when i - j < sliding_window), as HF's
sliding-window cache holds them, and rotate with rope_local_base_freq. It
reads DIR/config.json, so any gemma3_text folder runs (rope_scaling null or
linear). Inference mode, float32, 2 threads unless --threads says otherwise.
Run it as tools/bench/llama.sh does, with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset (SkylakeX set where the CPU has AVX-512).
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/bench free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import save_folder, time_inference  # noqa: E402

# google/gemma-3-270m's config.json (transformers 4.55's Gemma3TextConfig;
# eos_token_id, which changes nothing here, with the chat turn's end, 106).
GEMMA3_270M = {
    "model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "vocab_size": 262144, "hidden_size": 640,
    "intermediate_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1,
    "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rope_scaling": None,
    "query_pre_attn_scalar": 256, "sliding_window": 512, "_sliding_window_pattern": 6,
    "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(18)],
    "attn_logit_softcapping": None, "final_logit_softcapping": None, "attention_bias": False,
    "tie_word_embeddings": True, "bos_token_id": 2, "eos_token_id": [1, 106], "pad_token_id": 0,
    "use_bidirectional_attention": False, "torch_dtype": "float32",
}


def shapes(c):
    """Gemma3ForCausalLM's state dict (tied: no lm_head.weight)."""
    V, C, I = c["vocab_size"], c["hidden_size"], c["intermediate_size"]
    H, KV, D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    s = {"model.embed_tokens.weight": [V, C], "model.norm.weight": [C]}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"):
            s[p + n + ".weight"] = [C]
        s.update({p + "self_attn.q_proj.weight": [H * D, C], p + "self_attn.k_proj.weight": [KV * D, C],
                  p + "self_attn.v_proj.weight": [KV * D, C], p + "self_attn.o_proj.weight": [C, H * D],
                  p + "self_attn.q_norm.weight": [D], p + "self_attn.k_norm.weight": [D],
                  p + "mlp.gate_proj.weight": [I, C], p + "mlp.up_proj.weight": [I, C], p + "mlp.down_proj.weight": [C, I]})
    return s


def write(d, cfg=GEMMA3_270M, pt=True, seed=0):
    """Write a random-weight folder of cfg's shape: matrices N(0, 0.02²),
    norm weights (offsets from 1) N(0, 0.1²)."""
    torch.manual_seed(seed)
    sd = {n: torch.randn(s) * (0.1 if "norm" in n else 0.02) for n, s in shapes(cfg).items()}
    save_folder(d, sd, cfg, pt)


def inv_freq(theta, d, scaling=None):
    """The rotary frequencies 1/theta^(2i/d) as HF computes them (float32),
    divided by a linear rope_scaling's factor."""
    f = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind not in ("linear", "default"):
            raise SystemExit(f"rope_scaling {kind!r} is not built here (null or linear)")
        if kind == "linear":
            f = f / scaling["factor"]
    return f


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Model:
    """Gemma3ForCausalLM's inference on one sequence, with a KV cache of
    ctx positions a layer allocated up front."""

    def __init__(self, sd, cfg, ctx=4096):
        c = cfg
        if c.get("attn_logit_softcapping") or c.get("final_logit_softcapping"):
            raise SystemExit("logit softcapping is not built here (Gemma 3 has none)")
        self.p, self.eps = sd, c["rms_norm_eps"]
        self.L, self.H, self.KV, self.D = c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.W = c["sliding_window"]
        self.local = [t == "sliding_attention" for t in c["layer_types"]]
        self.ctx = min(ctx, c["max_position_embeddings"])
        self.k = torch.zeros(self.L, self.KV, self.ctx, self.D)
        self.v = torch.zeros(self.L, self.KV, self.ctx, self.D)
        self.n = 0
        self.inv = {False: inv_freq(c["rope_theta"], self.D, c.get("rope_scaling")),
                    True: inv_freq(c["rope_local_base_freq"], self.D)}
        self.scale = c["query_pre_attn_scalar"] ** -0.5
        self.embed_scale = float(torch.tensor(c["hidden_size"] ** 0.5, dtype=torch.float32))

    def norm(self, x, w):  # Gemma3RMSNorm
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + w)

    def step(self, ids, last=True):
        """Run new tokens (1-D ids) through the model, extending the cache;
        return the last position's logits [1, V] (every new position's,
        [T, V], when not last)."""
        p, T, n, H, KV, D, W = self.p, len(ids), self.n, self.H, self.KV, self.D, self.W
        if n + T > self.ctx:
            raise SystemExit(f"{n + T} positions exceed the cache's {self.ctx}")
        pos = torch.arange(n, n + T).float()[:, None]
        rope, lo, masks = {}, {}, {}
        for local, inv in self.inv.items():
            f = pos * inv[None, :]
            emb = torch.cat((f, f), dim=-1)
            rope[local] = emb.cos(), emb.sin()
            lo[local] = max(0, n + 1 - W) if local else 0  # the first key the first new query sees
            if T > 1:
                i, j = torch.arange(n, n + T)[:, None], torch.arange(lo[local], n + T)[None, :]
                masks[local] = (j > i) | (i - j >= W) if local else j > i
        x = p["model.embed_tokens.weight"][ids] * self.embed_scale
        for li in range(self.L):
            l, local = f"model.layers.{li}.", self.local[li]
            cos, sin = rope[local]
            a = self.norm(x, p[l + "input_layernorm.weight"])
            q = self.norm((a @ p[l + "self_attn.q_proj.weight"].t()).view(T, H, D), p[l + "self_attn.q_norm.weight"]).transpose(0, 1)
            k = self.norm((a @ p[l + "self_attn.k_proj.weight"].t()).view(T, KV, D), p[l + "self_attn.k_norm.weight"]).transpose(0, 1)
            v = (a @ p[l + "self_attn.v_proj.weight"].t()).view(T, KV, D).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            self.k[li, :, n:n + T] = k
            self.v[li, :, n:n + T] = v
            K = self.k[li, :, lo[local]:n + T].repeat_interleave(H // KV, dim=0)
            Vv = self.v[li, :, lo[local]:n + T].repeat_interleave(H // KV, dim=0)
            att = (q @ K.transpose(-1, -2)) * self.scale
            if T > 1:
                att = att.masked_fill(masks[local], float("-inf"))
            y = (att.softmax(-1) @ Vv).transpose(0, 1).reshape(T, H * D)
            x = x + self.norm(y @ p[l + "self_attn.o_proj.weight"].t(), p[l + "post_attention_layernorm.weight"])
            m = self.norm(x, p[l + "pre_feedforward_layernorm.weight"])
            g = F.gelu(m @ p[l + "mlp.gate_proj.weight"].t(), approximate="tanh") * (m @ p[l + "mlp.up_proj.weight"].t())
            x = x + self.norm(g @ p[l + "mlp.down_proj.weight"].t(), p[l + "post_feedforward_layernorm.weight"])
        self.n += T
        h = x[-1:] if last else x
        return self.norm(h, p["model.norm.weight"]) @ p["model.embed_tokens.weight"].t()


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
    from torch_bench import malloc_setting, openblas_core
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, OpenBLAS {openblas_core()}, malloc {malloc_setting()}", file=sys.stderr)
    with open(os.path.join(args.dir, "config.json")) as f:
        cfg = json.load(f)
    time_inference(os.path.join(args.dir, "model.pt"), lambda sd: Model(sd, cfg), cfg["vocab_size"], args.reps)

if __name__ == "__main__":
    main()
