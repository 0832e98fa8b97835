#!/usr/bin/python3
"""Write tiny HuggingFace T5 folders and PyTorch reference outputs for model/t5.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_t5.py
    /usr/bin/python3 tools/golden/torch_t5.py --check DIR GOLDEN   # check an exported folder

It writes, for each case,

* testdata/hf/<case>/config.json: HF's T5Config fields (model_type "t5");
* testdata/hf/<case>/model.safetensors: random weights under the state-dict
  names of HF's T5ForConditionalGeneration (shared.weight,
  encoder.block.0.layer.0.SelfAttention.q.weight, ...,
  encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight,
  encoder.final_layer_norm.weight, decoder..., lm_head.weight when untied);
* testdata/hf/<case>/golden.safetensors: input.src [B,S] I64, input.src_pad
  [B,S] U8 (1 = padding), input.tgt [B,T] I64 (decoder input, starting with
  decoder_start_token_id), output.encoder [B,S,d_model], output.logits
  [B,T,V], output.greedy [B,8] I64 (8 greedy tokens after the start token,
  argmax at each step, not stopped at EOS), and the relative-position bucket
  tables input.rel [401] (relative positions -200..200), output.buckets.<bi|uni>_<buckets>_<max distance>
  for the tiny and the published (32, 128) settings.

With --check, it instead loads the HF folder DIR (for instance one that
attn's t5.Save wrote) and requires its logits on GOLDEN's inputs to match
GOLDEN's output.logits to 1e-4.

Cases:

* t5-tiny: the original T5 (ReLU DenseReluDense, tied lm_head with the
  d_model^-0.5 rescale of the decoder output), stored as F32.
* flan-t5-tiny: T5 v1.1 / flan-t5 / mT5 style (feed_forward_proj
  "gated-gelu": wi_0, wi_1, gelu_new; untied lm_head, no rescale), 2 encoder
  and 3 decoder layers, num_heads * d_kv (24) != d_model (32) as in mT5,
  stored as BF16.

The forward pass is written in plain torch (there is no transformers package
here) after HF's modeling_t5.py: T5LayerNorm is RMSNorm without mean or bias;
attention logits are q.k^T with no 1/sqrt(d) scaling, plus the position bias,
which block 0's relative_attention_bias computes once per stack
(bidirectional buckets in the encoder, causal ones in the decoder) and every
layer reuses, with the additive mask (finfo.min) folded in; cross attention
has no bias, only the encoder padding mask; pre-norm residual sublayers;
final_layer_norm after each stack. The bucket function is HF's own,
run in float32 as HF does.

Precision: weights are drawn in float32 (then rounded to the stored dtype),
so the stored values are exactly the ones used; the forward passes run in
float64 and only results are rounded to float32.
"""

import json
import math
import os
import struct
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPUTE = torch.float64
GREEDY_STEPS = 8

_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.uint8: "U8"}


def write_safetensors(path, tensors, metadata=None):
    """Write tensors in sorted-name order (F32, F16, BF16, I64, U8), header
    padded with spaces so the data starts 8-byte aligned."""
    names = sorted(tensors)
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in names:
        t = tensors[name].detach().contiguous()
        tag = _DTYPES[t.dtype]
        if t.dtype in (torch.float16, torch.bfloat16):
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype({"F32": "<f4", "I64": "<i8", "U8": "u1"}[tag]).tobytes()
        header[name] = {"dtype": tag, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((-(8 + len(hjson))) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(path + ".tmp", path)


def read_safetensors(path):
    """Read a safetensors file (F32, F16, BF16, I64, U8) into {name: tensor}."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = {v: k for k, v in _DTYPES.items()}[info["dtype"]]
        buf = bytearray(body[begin:end])
        if dtype in (torch.float16, torch.bfloat16):
            t = torch.frombuffer(buf, dtype=torch.int16).view(dtype)
        else:
            t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# --------------------------------------------------------------------------
# HF T5 semantics
# --------------------------------------------------------------------------


def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """HF's T5Attention._relative_position_bucket, verbatim in behaviour
    (float32 logarithm)."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    return relative_buckets + torch.where(is_small, relative_position, if_large)


def compute_bias(table, qlen, klen, bidirectional, cfg):
    """[1, H, qlen, klen] from relative_attention_bias.weight [buckets, H]."""
    ctx = torch.arange(qlen, dtype=torch.long)[:, None]
    mem = torch.arange(klen, dtype=torch.long)[None, :]
    buckets = relative_position_bucket(
        mem - ctx, bidirectional, cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
    )
    return table[buckets].permute(2, 0, 1).unsqueeze(0)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {"relu": torch.relu, "gelu_new": gelu_new, "gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu}


def attention(W, p, x, kv, bias, cfg):
    """T5Attention: no scaling; bias [1|B, H, Tq, Tk] already holds the mask."""
    B, Tq, _ = x.shape
    Tk = kv.shape[1]
    H, D = cfg["num_heads"], cfg["d_kv"]

    def split(t, n):
        return t.view(B, n, H, D).transpose(1, 2)  # (B, H, n, D)

    q = split(x @ W[p + "q.weight"].T, Tq)
    k = split(kv @ W[p + "k.weight"].T, Tk)
    v = split(kv @ W[p + "v.weight"].T, Tk)
    scores = q @ k.transpose(3, 2) + bias  # (B, H, Tq, Tk)
    w = torch.softmax(scores, dim=-1)
    o = (w @ v).transpose(1, 2).reshape(B, Tq, H * D)
    return o @ W[p + "o.weight"].T


def dense(W, p, x, cfg):
    gated = cfg["feed_forward_proj"].startswith("gated-")
    act = ACT[cfg["dense_act_fn"]]
    if gated:
        h = act(x @ W[p + "wi_0.weight"].T) * (x @ W[p + "wi_1.weight"].T)
    else:
        h = act(x @ W[p + "wi.weight"].T)
    return h @ W[p + "wo.weight"].T


def extended_mask(keep):
    """(1 - mask) * finfo.min, HF's additive attention mask."""
    return (1.0 - keep.to(COMPUTE)) * torch.finfo(COMPUTE).min


def encode(W, cfg, src, src_pad):
    eps = cfg["layer_norm_epsilon"]
    h = W["shared.weight"][src]
    B, S = src.shape
    mask = extended_mask(~src_pad)[:, None, None, :]  # (B, 1, 1, S)
    bias = compute_bias(W["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], S, S, True, cfg) + mask
    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}.layer."
        x = rms_norm(h, W[p + "0.layer_norm.weight"], eps)
        h = h + attention(W, p + "0.SelfAttention.", x, x, bias, cfg)
        h = h + dense(W, p + "1.DenseReluDense.", rms_norm(h, W[p + "1.layer_norm.weight"], eps), cfg)
    return rms_norm(h, W["encoder.final_layer_norm.weight"], eps)


def decode(W, cfg, tgt, memory, src_pad):
    eps = cfg["layer_norm_epsilon"]
    h = W["shared.weight"][tgt]
    B, T = tgt.shape
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    self_bias = compute_bias(W["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], T, T, False, cfg)
    self_bias = self_bias + extended_mask(causal)[None, None]
    cross_bias = extended_mask(~src_pad)[:, None, None, :]
    for i in range(cfg["num_decoder_layers"]):
        p = f"decoder.block.{i}.layer."
        x = rms_norm(h, W[p + "0.layer_norm.weight"], eps)
        h = h + attention(W, p + "0.SelfAttention.", x, x, self_bias, cfg)
        x = rms_norm(h, W[p + "1.layer_norm.weight"], eps)
        h = h + attention(W, p + "1.EncDecAttention.", x, memory, cross_bias, cfg)
        h = h + dense(W, p + "2.DenseReluDense.", rms_norm(h, W[p + "2.layer_norm.weight"], eps), cfg)
    h = rms_norm(h, W["decoder.final_layer_norm.weight"], eps)
    if cfg["tie_word_embeddings"]:
        return (h * cfg["d_model"] ** -0.5) @ W["shared.weight"].T
    return h @ W["lm_head.weight"].T


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------


def hf_config(name, **kw):
    c = {
        "architectures": ["T5ForConditionalGeneration"],
        "d_ff": 32,
        "d_kv": 8,
        "d_model": 32,
        "decoder_start_token_id": 0,
        "dropout_rate": 0.1,
        "eos_token_id": 1,
        "feed_forward_proj": "relu",
        "initializer_factor": 1.0,
        "is_encoder_decoder": True,
        "layer_norm_epsilon": 1e-06,
        "model_type": "t5",
        "n_positions": 512,
        "num_decoder_layers": 2,
        "num_heads": 4,
        "num_layers": 2,
        "output_past": True,
        "pad_token_id": 0,
        "relative_attention_max_distance": 16,
        "relative_attention_num_buckets": 8,
        "torch_dtype": "float32",
        "transformers_version": "4.40.0",
        "use_cache": True,
        "vocab_size": 64,
    }
    c.update(kw)
    return c


CASES = {
    "t5-tiny": dict(seed=501, store=torch.float32, out_scale=3.0, config=hf_config("t5-tiny")),
    "flan-t5-tiny": dict(
        seed=502,
        out_scale=3.0,
        store=torch.bfloat16,
        config=hf_config(
            "flan-t5-tiny",
            d_ff=48,
            d_kv=6,
            num_decoder_layers=3,
            feed_forward_proj="gated-gelu",
            dense_act_fn="gelu_new",
            is_gated_act=True,
            tie_word_embeddings=False,
            torch_dtype="bfloat16",
        ),
    ),
}


def runtime_config(c):
    """The config with HF's derived fields filled in, as T5Config does."""
    r = dict(c)
    r.setdefault("tie_word_embeddings", True)
    act = r["feed_forward_proj"].split("-")
    r["dense_act_fn"] = act[-1]
    if r["feed_forward_proj"] == "gated-gelu":
        r["dense_act_fn"] = "gelu_new"
    return r


def make_weights(cfg, gen, out_scale):
    """HF state-dict names and shapes, HF's init scales (T5PreTrainedModel.
    _init_weights, factor 1), with RMSNorm gains 1 + 0.1*randn and a larger
    relative bias so that its effect shows. The output projections (o, wo)
    are out_scale times HF's scale, so that the sublayers, not the input
    embedding, decide the greedy tokens."""
    d, H, D, F, V = cfg["d_model"], cfg["num_heads"], cfg["d_kv"], cfg["d_ff"], cfg["vocab_size"]
    inner = H * D
    W = {}

    def rnd(shape, std):
        return torch.randn(*shape, generator=gen) * std

    W["shared.weight"] = rnd([V, d], 1.0)
    gated = cfg["feed_forward_proj"].startswith("gated-")

    def attn(p, rel):
        W[p + "q.weight"] = rnd([inner, d], (d * D) ** -0.5)
        W[p + "k.weight"] = rnd([inner, d], d**-0.5)
        W[p + "v.weight"] = rnd([inner, d], d**-0.5)
        W[p + "o.weight"] = rnd([d, inner], out_scale * inner**-0.5)
        if rel:
            W[p + "relative_attention_bias.weight"] = rnd([cfg["relative_attention_num_buckets"], H], 0.5)

    def ff(p):
        if gated:
            W[p + "wi_0.weight"] = rnd([F, d], d**-0.5)
            W[p + "wi_1.weight"] = rnd([F, d], d**-0.5)
        else:
            W[p + "wi.weight"] = rnd([F, d], d**-0.5)
        W[p + "wo.weight"] = rnd([d, F], out_scale * F**-0.5)

    def norm(name):
        W[name] = 1 + 0.1 * torch.randn(d, generator=gen)

    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}.layer."
        attn(p + "0.SelfAttention.", i == 0)
        norm(p + "0.layer_norm.weight")
        ff(p + "1.DenseReluDense.")
        norm(p + "1.layer_norm.weight")
    norm("encoder.final_layer_norm.weight")
    for i in range(cfg["num_decoder_layers"]):
        p = f"decoder.block.{i}.layer."
        attn(p + "0.SelfAttention.", i == 0)
        norm(p + "0.layer_norm.weight")
        attn(p + "1.EncDecAttention.", False)
        norm(p + "1.layer_norm.weight")
        ff(p + "2.DenseReluDense.")
        norm(p + "2.layer_norm.weight")
    norm("decoder.final_layer_norm.weight")
    if not cfg["tie_word_embeddings"]:
        W["lm_head.weight"] = rnd([V, d], d**-0.5)
    return W


def bucket_tables():
    rel = torch.arange(-200, 201, dtype=torch.long)
    out = {"input.rel": rel}
    for nb, md in ((8, 16), (32, 128)):
        for bi in (True, False):
            out[f"output.buckets.{'bi' if bi else 'uni'}_{nb}_{md}"] = relative_position_bucket(rel, bi, nb, md)
    return out


def build(name, case):
    gen = torch.Generator().manual_seed(case["seed"])
    torch.manual_seed(case["seed"])
    cfg = runtime_config(case["config"])
    W = make_weights(cfg, gen, case["out_scale"])
    stored = {k: v.to(case["store"]) for k, v in W.items()}  # what the file holds
    Wc = {k: v.to(COMPUTE) for k, v in stored.items()}  # exactly those values, in float64

    V, pad, eos, start = cfg["vocab_size"], cfg["pad_token_id"], cfg["eos_token_id"], cfg["decoder_start_token_id"]
    B, S, T = 2, 7, 6
    lengths = [7, 4]
    src = torch.full((B, S), pad, dtype=torch.long)
    for b, n in enumerate(lengths):
        src[b, : n - 1] = torch.randint(2, V, (n - 1,), generator=gen)
        src[b, n - 1] = eos
    src_pad = torch.arange(S)[None, :] >= torch.tensor(lengths)[:, None]
    tgt = torch.randint(2, V, (B, T), generator=gen)
    tgt[:, 0] = start

    with torch.no_grad():
        memory = encode(Wc, cfg, src, src_pad)
        logits = decode(Wc, cfg, tgt, memory, src_pad)
        seq = torch.full((B, 1), start, dtype=torch.long)
        margin = math.inf
        for _ in range(GREEDY_STEPS):
            last = decode(Wc, cfg, seq, memory, src_pad)[:, -1]
            top = torch.topk(last, 2, dim=-1).values
            margin = min(margin, (top[:, 0] - top[:, 1]).min().item())
            seq = torch.cat([seq, last.argmax(-1, keepdim=True)], dim=1)
    if margin < 1e-3:
        raise SystemExit(f"{name}: greedy top-2 margin {margin:.2e} too small for a stable test; change the seed")

    folder = os.path.join(ROOT, "testdata", "hf", name)
    write_json(os.path.join(folder, "config.json"), case["config"])
    write_safetensors(os.path.join(folder, "model.safetensors"), stored, {"format": "pt"})
    golden = {
        "input.src": src,
        "input.src_pad": src_pad.to(torch.uint8),
        "input.tgt": tgt,
        "output.encoder": memory.float(),
        "output.logits": logits.float(),
        "output.greedy": seq[:, 1:].contiguous(),
    }
    golden.update(bucket_tables())
    meta = {
        "case": f"{name}: HF T5ForConditionalGeneration forward, plain torch float64",
        "torch": torch.__version__,
        "generator": "tools/golden/torch_t5.py",
        "seed": case["seed"],
        "compute_dtype": "float64",
    }
    write_safetensors(os.path.join(folder, "golden.safetensors"), golden, meta)
    print(f"{name}: logits |max| {logits.abs().max():.3f}, greedy {seq[:, 1:].tolist()}, top-2 margin {margin:.3g}")


def check_folder(folder, golden_path):
    """Load a T5 folder (config.json, model.safetensors, e.g. one written by
    attn's t5.Save) and compare its logits on a golden file's inputs with
    that file's output.logits."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = runtime_config(json.load(f))
    cfg.setdefault("num_decoder_layers", cfg["num_layers"])
    W = {k: v.to(COMPUTE) for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
    g = read_safetensors(golden_path)
    with torch.no_grad():
        src_pad = g["input.src_pad"].bool()
        logits = decode(W, cfg, g["input.tgt"], encode(W, cfg, g["input.src"], src_pad), src_pad)
    err = (logits - g["output.logits"].to(COMPUTE)).abs().max().item()
    print(f"{folder}: logits max abs error {err:.2e} against {golden_path}")
    if err > 1e-4:
        raise SystemExit("mismatch")


def main():
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2], sys.argv[3])
        return
    names = sys.argv[1:] or list(CASES)
    torch.set_num_threads(1)
    for name in names:
        build(name, CASES[name])


if __name__ == "__main__":
    main()
