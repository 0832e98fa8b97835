#!/usr/bin/python3
"""A Qwen3-MoE model's inference in PyTorch, beside `attn bench
prompt|decode|load --model DIR`.

    /usr/bin/python3 tools/bench/torch_moe.py --write DIR              # random-weight Qwen3-30B-A3B-shaped folder, 2 layers
    /usr/bin/python3 tools/bench/torch_moe.py --write DIR --layers 4   # 4 layers (1.2 GB more each)
    /usr/bin/python3 tools/bench/torch_moe.py DIR                      # time PyTorch on it

--write makes DIR a HuggingFace Qwen3MoeForCausalLM folder (model_type
qwen3_moe) with Qwen/Qwen3-30B-A3B's layers (hidden 2048, 32 query heads
over 4 key/value heads of 128, q_norm and k_norm over each head, every
layer sparse: 128 experts of moe_intermediate_size 768, 8 a token,
norm_topk_prob true; vocabulary 151936, untied, rms_norm_eps 1e-6,
rope_theta 1e6) but only --layers of its 48 (default 2), and random
weights: config.json, model.safetensors (BF16 unless --dtype f32,
Qwen3MoeForCausalLM's names) and, for the load comparison, model.pt
(torch.save of the same state dict, in the same dtype; --no-pt leaves it
out, and the timing its load line). A layer's experts are
128 * 3 * 2048 * 768 = 604M weights, 1.2 GB in BF16 (2.4 GB in F32); the
embeddings and lm_head 311M each (--vocab makes them smaller; then
bos_token_id and eos_token_id are its last two ids). Matrices
are N(0, 0.02^2), norm weights 1 + N(0, 0.1^2), the routers N(0, 0.1^2)
(router logits of standard deviation about 4.5 over unit-RMS inputs, so
that a token's top-8 probabilities differ as a trained router's do; the
choice itself does not depend on the router's scale), and the embeddings
N(0, 1) so that tokens differ enough to choose different experts: with
the embeddings at 0.02, the attention's mix of the previous tokens
dominates the residual stream, and a 128-token prompt's second layer
chose 64 experts, its busiest taking 114 of the tokens (at 1: all 128
experts, the busiest 25 tokens).

Timing prints the JSON lines tools/bench/torch_llama.py prints: load
(torch.load of model.pt, the weights kept as stored, as attn's LoadHalf
keeps a BF16 folder's), prompt (128 tokens through the model, filling a
KV cache, the last position's logits), decode (one token with 16 and with
1,000 tokens cached; the cache, 4,096 positions a layer, is preallocated);
on stderr, how many experts the prompt's tokens chose in each layer. The
model is written in plain torch after HF's Qwen3MoeForCausalLM (no
transformers package here): Qwen3's attention (RMSNorm over each query and
key head before the rotation, rotate half, the key/value heads expanded as
HF's repeat_kv does), and Qwen3MoeSparseMoeBlock's forward as HF writes
it: the router's softmax in float32, top-k, the k probabilities
renormalised, then a loop over the experts some token chose, each running
its tokens' rows (hidden_states[top_x]) through down(silu(gate) * up),
scaled by their probabilities and added back with index_add_. The weights
are converted once, as they load, to float32, and the model runs in
float32 (so it reads 4 bytes a weight where attn's LoadHalf reads BF16's
2). It reads DIR/config.json, so any qwen3_moe folder runs (rope_scaling
null). Inference mode, 2 threads unless --threads says otherwise. Run it
as tools/bench/llama.sh runs its twins, with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset (SkylakeX set where the CPU has AVX-512).
"""

import argparse
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/bench free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import time_inference, timed  # noqa: E402

# Qwen/Qwen3-30B-A3B's config.json (transformers 4.51's Qwen3MoeConfig);
# --write sets num_hidden_layers (and vocab_size, torch_dtype).
QWEN3_30B_A3B = {
    "model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"], "vocab_size": 151936, "hidden_size": 2048,
    "intermediate_size": 6144, "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
    "num_key_value_heads": 4, "head_dim": 128, "hidden_act": "silu", "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": None, "attention_bias": False,
    "attention_dropout": 0.0, "num_experts": 128, "num_experts_per_tok": 8, "norm_topk_prob": True,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "output_router_logits": False, "router_aux_loss_coef": 0.001,
    "use_sliding_window": False, "sliding_window": None, "max_window_layers": 48, "tie_word_embeddings": False,
    "bos_token_id": 151643, "eos_token_id": 151645, "initializer_range": 0.02, "use_cache": True,
    "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
}


def sparse(c, i):
    """Whether layer i's MLP is Qwen3MoeSparseMoeBlock (else Qwen3MoeMLP of
    intermediate_size), as Qwen3MoeDecoderLayer decides."""
    return i not in c["mlp_only_layers"] and c["num_experts"] > 0 and (i + 1) % c["decoder_sparse_step"] == 0


def shapes(c):
    """Qwen3MoeForCausalLM's state dict (untied: lm_head.weight too)."""
    V, C, H, KV, D = c["vocab_size"], c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    E, W = c["num_experts"], c["moe_intermediate_size"]
    s = {"model.embed_tokens.weight": [V, C], "model.norm.weight": [C]}
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, C]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        s.update({p + "input_layernorm.weight": [C], p + "post_attention_layernorm.weight": [C],
                  p + "self_attn.q_proj.weight": [H * D, C], p + "self_attn.k_proj.weight": [KV * D, C],
                  p + "self_attn.v_proj.weight": [KV * D, C], p + "self_attn.o_proj.weight": [C, H * D],
                  p + "self_attn.q_norm.weight": [D], p + "self_attn.k_norm.weight": [D]})
        if sparse(c, i):
            s[p + "mlp.gate.weight"] = [E, C]
            for e in range(E):
                q = f"{p}mlp.experts.{e}."
                s.update({q + "gate_proj.weight": [W, C], q + "up_proj.weight": [W, C], q + "down_proj.weight": [C, W]})
        else:
            I = c["intermediate_size"]
            s.update({p + "mlp.gate_proj.weight": [I, C], p + "mlp.up_proj.weight": [I, C], p + "mlp.down_proj.weight": [C, I]})
    return s


def draw(name, shape):
    """One weight as the module docstring says."""
    if name.endswith("norm.weight"):
        return 1 + 0.1 * torch.randn(shape)
    if name.endswith("mlp.gate.weight"):
        return 0.1 * torch.randn(shape)
    if name == "model.embed_tokens.weight":
        return torch.randn(shape)
    return 0.02 * torch.randn(shape)


def write(d, cfg, dtype, pt=True, seed=0):
    """Write a random-weight folder of cfg's shape in dtype (torch.bfloat16
    or torch.float32): model.safetensors (names sorted), config.json and,
    when pt, model.pt. Each tensor is drawn in float32 and converted as it
    is drawn, so memory holds the folder's bytes once, not its float32."""
    torch.manual_seed(seed)
    sd = {n: draw(n, s).to(dtype) for n, s in shapes(cfg).items()}
    os.makedirs(d, exist_ok=True)
    tag = {torch.bfloat16: "BF16", torch.float32: "F32"}[dtype]
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(sd):
        n = sd[name].numel() * sd[name].element_size()
        header[name] = {"dtype": tag, "shape": list(sd[name].shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name in sorted(sd):
            t = sd[name].contiguous()
            # numpy has no bfloat16: the same bytes as int16 (little-endian here).
            f.write((t.view(torch.int16) if dtype == torch.bfloat16 else t).numpy().tobytes())
    if pt:
        torch.save(sd, os.path.join(d, "model.pt"))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"wrote {d}: {off / 1e6:.0f} MB of weights ({tag})" + ("" if pt else ", no model.pt"))


def read_safetensors(path):
    """model.safetensors as a state dict in its own dtypes (F32 or BF16)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        sd = {}
        for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            a, b = e["data_offsets"]
            f.seek(8 + n + a)
            raw = bytearray(f.read(b - a))
            if e["dtype"] == "BF16":
                sd[name] = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16).view(e["shape"])
            elif e["dtype"] == "F32":
                sd[name] = torch.frombuffer(raw, dtype=torch.float32).view(e["shape"])
            else:
                raise SystemExit(f"{path}: {name} is {e['dtype']}; F32 or BF16 here")
    return sd


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Model:
    """Qwen3MoeForCausalLM's inference on one sequence in float32, with a KV
    cache of ctx positions a layer allocated up front. The state dict's
    tensors are converted to float32 (and dropped from sd) as it is read."""

    def __init__(self, sd, cfg, ctx=4096):
        c = cfg
        if c.get("rope_scaling"):
            raise SystemExit("rope_scaling is not built here (Qwen3-30B-A3B has none)")
        self.p = {}
        for n in list(sd):
            self.p[n] = sd.pop(n).float()
        self.c, self.eps = c, c["rms_norm_eps"]
        self.L, self.H, self.KV, self.D = c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.E, self.K = c["num_experts"], c["num_experts_per_tok"]
        self.ctx = min(ctx, c["max_position_embeddings"])
        self.k = torch.zeros(self.L, self.KV, self.ctx, self.D)
        self.v = torch.zeros(self.L, self.KV, self.ctx, self.D)
        self.n = 0
        self.inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))
        self.head = self.p["model.embed_tokens.weight" if c["tie_word_embeddings"] else "lm_head.weight"]
        self.hits = []  # experts chosen in each sparse layer by the last step

    def norm(self, x, w):  # Qwen3MoeRMSNorm
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def mlp(self, x, pre):  # Qwen3MoeMLP
        p = self.p
        return (F.silu(x @ p[pre + "gate_proj.weight"].t()) * (x @ p[pre + "up_proj.weight"].t())) @ p[pre + "down_proj.weight"].t()

    def moe(self, x, pre):
        """Qwen3MoeSparseMoeBlock.forward on x [T, C], as HF writes it."""
        p = self.p
        router_logits = x @ p[pre + "gate.weight"].t()
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.K, dim=-1)
        if self.c["norm_topk_prob"]:
            routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        routing_weights = routing_weights.to(x.dtype)
        final = torch.zeros_like(x)
        expert_mask = F.one_hot(selected_experts, num_classes=self.E).permute(2, 1, 0)
        expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
        self.hits.append(len(expert_hit))
        for e in expert_hit:
            e = int(e)
            idx, top_x = torch.where(expert_mask[e])
            y = self.mlp(x[top_x], f"{pre}experts.{e}.") * routing_weights[top_x, idx, None]
            final.index_add_(0, top_x, y.to(x.dtype))
        return final

    def step(self, ids, last=True):
        """Run new tokens (1-D ids) through the model, extending the cache;
        return the last position's logits [1, V] (every new position's,
        [T, V], when not last)."""
        p, T, n, H, KV, D = self.p, len(ids), self.n, self.H, self.KV, self.D
        if n + T > self.ctx:
            raise SystemExit(f"{n + T} positions exceed the cache's {self.ctx}")
        f = torch.arange(n, n + T).float()[:, None] * self.inv[None, :]
        emb = torch.cat((f, f), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        if T > 1:
            mask = torch.arange(n + T)[None, :] > torch.arange(n, n + T)[:, None]  # key after query
        self.hits = []
        x = p["model.embed_tokens.weight"][ids]
        for i in range(self.L):
            l = f"model.layers.{i}."
            a = self.norm(x, p[l + "input_layernorm.weight"])
            q = self.norm((a @ p[l + "self_attn.q_proj.weight"].t()).view(T, H, D), p[l + "self_attn.q_norm.weight"]).transpose(0, 1)
            k = self.norm((a @ p[l + "self_attn.k_proj.weight"].t()).view(T, KV, D), p[l + "self_attn.k_norm.weight"]).transpose(0, 1)
            v = (a @ p[l + "self_attn.v_proj.weight"].t()).view(T, KV, D).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            self.k[i, :, n:n + T] = k
            self.v[i, :, n:n + T] = v
            K = self.k[i, :, :n + T].repeat_interleave(H // KV, dim=0)
            Vv = self.v[i, :, :n + T].repeat_interleave(H // KV, dim=0)
            att = (q @ K.transpose(-1, -2)) * D ** -0.5
            if T > 1:
                att = att.masked_fill(mask, float("-inf"))
            y = (att.softmax(-1) @ Vv).transpose(0, 1).reshape(T, H * D)
            x = x + y @ p[l + "self_attn.o_proj.weight"].t()
            m = self.norm(x, p[l + "post_attention_layernorm.weight"])
            x = x + (self.moe(m, l + "mlp.") if sparse(self.c, i) else self.mlp(m, l + "mlp."))
        self.n += T
        h = x[-1:] if last else x
        return self.norm(h, p["model.norm.weight"]) @ self.head.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--write", action="store_true", help="write the random-weight folder instead of timing")
    ap.add_argument("--layers", type=int, default=2, help="--write: layers (Qwen3-30B-A3B has 48)")
    ap.add_argument("--vocab", type=int, default=QWEN3_30B_A3B["vocab_size"], help="--write: vocabulary size")
    ap.add_argument("--dtype", choices=("bf16", "f32"), default="bf16", help="--write: the weights' format")
    ap.add_argument("--no-pt", action="store_true", help="--write: no model.pt (then no load timing)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    if args.write:
        dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[args.dtype]
        cfg = dict(QWEN3_30B_A3B, num_hidden_layers=args.layers, max_window_layers=args.layers, vocab_size=args.vocab,
                   torch_dtype={"bf16": "bfloat16", "f32": "float32"}[args.dtype])
        if args.vocab <= cfg["eos_token_id"]:  # a cut vocabulary: its last two tokens begin and end
            cfg.update(bos_token_id=args.vocab - 2, eos_token_id=args.vocab - 1)
        write(args.dir, cfg, dtype, not args.no_pt)
        return
    torch.set_num_threads(args.threads)
    from torch_bench import malloc_setting, openblas_core
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, OpenBLAS {openblas_core()}, malloc {malloc_setting()}", file=sys.stderr)
    with open(os.path.join(args.dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg["model_type"] != "qwen3_moe":
        raise SystemExit(f"{args.dir} is a {cfg['model_type']} folder; this twin runs qwen3_moe")
    models = []

    def build(sd):
        models.append(Model(sd, cfg))
        return models[-1]
    path = os.path.join(args.dir, "model.pt")
    if os.path.exists(path):
        time_inference(path, build, cfg["vocab_size"], args.reps)
    else:  # time_inference without its load line
        m = build(read_safetensors(os.path.join(args.dir, "model.safetensors")))
        with torch.inference_mode():
            prompt = torch.arange(128) % cfg["vocab_size"]

            def reset():
                m.n = 0
            t = timed(args.reps, lambda: m.step(prompt), reset)
            print(json.dumps({"bench": "prompt", "impl": "pytorch", "tokens": 128, "ms": t * 1e3, "tokens_per_s": 128 / t}))
            for cached in (16, 1000):
                def to_cached(c=cached):
                    m.n = c
                t = timed(args.reps * 3, lambda: m.step(torch.tensor([1])), to_cached)
                print(json.dumps({"bench": "decode", "impl": "pytorch", "cached": cached, "ms": t * 1e3, "tokens_per_s": 1 / t}))
    m = models[-1]
    with torch.inference_mode():
        m.n = 0
        m.step(torch.arange(128) % cfg["vocab_size"])
    print(f"# prompt of 128 tokens: experts chosen in each sparse layer {m.hits} of {m.E}", file=sys.stderr)


if __name__ == "__main__":
    main()
