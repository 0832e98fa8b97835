#!/usr/bin/python3
"""Write a tiny HuggingFace Marian (opus-mt) folder and PyTorch reference
outputs for model/marian.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_marian.py
    /usr/bin/python3 tools/golden/torch_marian.py --check DIR GOLDEN   # check an exported folder

It writes

* testdata/hf/marian-tiny/config.json: HF's MarianConfig fields, as an
  opus-mt config.json has them (model_type "marian", activation "swish",
  pad = decoder_start = vocab_size - 1, eos 0, scale_embedding, shared
  encoder/decoder embeddings);
* testdata/hf/marian-tiny/model.safetensors: random weights under
  MarianMTModel's state-dict names (model.shared.weight,
  model.encoder.layers.0.self_attn.q_proj.weight, ...,
  final_logits_bias [1, V]; lm_head.weight is tied to model.shared.weight and
  not stored, as HF saves it), stored as F16;
* testdata/hf/marian-tiny/golden.safetensors: input.src [B,S] I64,
  input.src_pad [B,S] U8 (1 = padding), input.tgt [B,T] I64 (decoder input,
  starting with decoder_start_token_id), output.encoder [B,S,d_model],
  output.logits [B,T,V], output.greedy [B,8] I64 (8 argmax tokens after the
  start token, not stopped at EOS, the bad_words_ids (pad) banned as HF's
  generate does), output.positions [16, d_model] (the
  sinusoidal table).

The forward pass is plain torch (there is no transformers package here)
after HF's modeling_marian.py: token embeddings times sqrt(d_model)
(scale_embedding) plus MarianSinusoidalPositionalEmbedding (not interleaved:
the first half of the features are sin(pos / 10000^(2j/d)), the second half
the cos of the same angles; positions 0.., not offset by padding); post-LN
encoder and decoder layers (x = LayerNorm(x + sublayer(x)), eps 1e-5) with
biases everywhere; attention q scaled by head_dim^-0.5; the configured
activation (swish = SiLU) in the feed-forward net; no final layer norm; logits
= decoder output @ model.shared.weight^T + final_logits_bias.

Precision: weights are drawn in float32 and rounded to float16, so the stored
values are exactly the ones used; the forward passes run in float64.
"""

import json
import math
import os
import sys

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_t5 import ROOT, read_safetensors, write_json, write_safetensors  # noqa: E402

COMPUTE = torch.float64
SEED = 601
GREEDY_STEPS = 8
NAME = "marian-tiny"
OUT_SCALE = 3.0

CONFIG = {
    "activation_dropout": 0.0,
    "activation_function": "swish",
    "add_bias_logits": False,
    "add_final_layer_norm": False,
    "architectures": ["MarianMTModel"],
    "attention_dropout": 0.0,
    "bad_words_ids": [[63]],
    "bos_token_id": 0,
    "classif_dropout": 0.0,
    "classifier_dropout": 0.0,
    "d_model": 32,
    "decoder_attention_heads": 4,
    "decoder_ffn_dim": 64,
    "decoder_layerdrop": 0.0,
    "decoder_layers": 2,
    "decoder_start_token_id": 63,
    "decoder_vocab_size": 64,
    "dropout": 0.1,
    "encoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "encoder_layerdrop": 0.0,
    "encoder_layers": 2,
    "eos_token_id": 0,
    "forced_eos_token_id": 0,
    "init_std": 0.02,
    "is_encoder_decoder": True,
    "max_length": 512,
    "max_position_embeddings": 512,
    "model_type": "marian",
    "normalize_before": False,
    "normalize_embedding": False,
    "num_beams": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 63,
    "scale_embedding": True,
    "share_encoder_decoder_embeddings": True,
    "static_position_embeddings": True,
    "torch_dtype": "float16",
    "transformers_version": "4.40.0",
    "use_cache": True,
    "vocab_size": 64,
}


def sinusoidal(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: float64 numpy-style
    angles pos / 10000^(2*(j//2)/dim), sin of the even columns into the first
    half, cos of the odd columns into the second; stored as float32."""
    j = torch.arange(dim, dtype=torch.float64)
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    enc = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    out = torch.empty(n_pos, dim, dtype=torch.float32)
    sentinel = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out[:, :sentinel] = torch.sin(enc[:, 0::2]).float()
    out[:, sentinel:] = torch.cos(enc[:, 1::2]).float()
    return out


ACT = {"swish": torch.nn.functional.silu, "silu": torch.nn.functional.silu, "relu": torch.relu, "gelu": torch.nn.functional.gelu}


def layer_norm(W, p, x):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], W[p + "weight"], W[p + "bias"], 1e-5)


def linear(W, p, x):
    return x @ W[p + "weight"].T + W[p + "bias"]


def attention(W, p, x, kv, mask, heads):
    """MarianAttention (BART's): q scaled by head_dim^-0.5; mask additive."""
    B, Tq, d = x.shape
    Tk = kv.shape[1]
    D = d // heads

    def split(t, n):
        return t.view(B, n, heads, D).transpose(1, 2)

    q = split(linear(W, p + "q_proj.", x) * D**-0.5, Tq)
    k = split(linear(W, p + "k_proj.", kv), Tk)
    v = split(linear(W, p + "v_proj.", kv), Tk)
    w = torch.softmax(q @ k.transpose(2, 3) + mask, dim=-1)
    return linear(W, p + "out_proj.", (w @ v).transpose(1, 2).reshape(B, Tq, d))


def embed(W, ids, pe):
    scale = math.sqrt(CONFIG["d_model"]) if CONFIG["scale_embedding"] else 1.0
    return W["model.shared.weight"][ids] * scale + pe[: ids.shape[1]].to(COMPUTE)


def encode(W, src, src_pad, pe):
    act = ACT[CONFIG["activation_function"]]
    h = embed(W, src, pe)
    mask = ((src_pad.to(COMPUTE)) * torch.finfo(COMPUTE).min)[:, None, None, :]
    for i in range(CONFIG["encoder_layers"]):
        p = f"model.encoder.layers.{i}."
        h = layer_norm(W, p + "self_attn_layer_norm.", h + attention(W, p + "self_attn.", h, h, mask, CONFIG["encoder_attention_heads"]))
        h = layer_norm(W, p + "final_layer_norm.", h + linear(W, p + "fc2.", act(linear(W, p + "fc1.", h))))
    return h


def decode(W, tgt, memory, src_pad, pe):
    act = ACT[CONFIG["activation_function"]]
    T = tgt.shape[1]
    h = embed(W, tgt, pe)
    causal = (~torch.tril(torch.ones(T, T, dtype=torch.bool))).to(COMPUTE) * torch.finfo(COMPUTE).min
    cross = ((src_pad.to(COMPUTE)) * torch.finfo(COMPUTE).min)[:, None, None, :]
    H = CONFIG["decoder_attention_heads"]
    for i in range(CONFIG["decoder_layers"]):
        p = f"model.decoder.layers.{i}."
        h = layer_norm(W, p + "self_attn_layer_norm.", h + attention(W, p + "self_attn.", h, h, causal[None, None], H))
        h = layer_norm(W, p + "encoder_attn_layer_norm.", h + attention(W, p + "encoder_attn.", h, memory, cross, H))
        h = layer_norm(W, p + "final_layer_norm.", h + linear(W, p + "fc2.", act(linear(W, p + "fc1.", h))))
    return h @ W["model.shared.weight"].T + W["final_logits_bias"]


def make_weights(gen):
    """MarianMTModel names; weights N(0, 1/in) so that activations keep a
    unit scale (out_proj and fc2 OUT_SCALE times larger, so that the
    sublayers rather than the input token decide the greedy tokens), biases and LayerNorm shifts 0.1*randn, LayerNorm gains
    1 + 0.1*randn, embeddings N(0, 1/d) (times sqrt(d) in the forward)."""
    d, V = CONFIG["d_model"], CONFIG["vocab_size"]
    W = {}

    def lin(p, out, inp, scale=1.0):
        W[p + "weight"] = torch.randn(out, inp, generator=gen) * scale * inp**-0.5
        W[p + "bias"] = 0.1 * torch.randn(out, generator=gen)

    def ln(p):
        W[p + "weight"] = 1 + 0.1 * torch.randn(d, generator=gen)
        W[p + "bias"] = 0.1 * torch.randn(d, generator=gen)

    def attn(p):
        for n in ("k_proj.", "v_proj.", "q_proj."):
            lin(p + n, d, d)
        lin(p + "out_proj.", d, d, OUT_SCALE)

    W["model.shared.weight"] = torch.randn(V, d, generator=gen) * d**-0.5
    W["final_logits_bias"] = 0.1 * torch.randn(1, V, generator=gen)
    for i in range(CONFIG["encoder_layers"]):
        p = f"model.encoder.layers.{i}."
        attn(p + "self_attn.")
        ln(p + "self_attn_layer_norm.")
        lin(p + "fc1.", CONFIG["encoder_ffn_dim"], d)
        lin(p + "fc2.", d, CONFIG["encoder_ffn_dim"], OUT_SCALE)
        ln(p + "final_layer_norm.")
    for i in range(CONFIG["decoder_layers"]):
        p = f"model.decoder.layers.{i}."
        attn(p + "self_attn.")
        ln(p + "self_attn_layer_norm.")
        attn(p + "encoder_attn.")
        ln(p + "encoder_attn_layer_norm.")
        lin(p + "fc1.", CONFIG["decoder_ffn_dim"], d)
        lin(p + "fc2.", d, CONFIG["decoder_ffn_dim"], OUT_SCALE)
        ln(p + "final_layer_norm.")
    return W


def check_folder(folder, golden_path):
    """Load a Marian folder (config.json, model.safetensors, e.g. one written
    by attn's marian.Save; CONFIG's values must match its config) and compare
    its logits on a golden file's inputs with that file's output.logits."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    for k in ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads", "activation_function", "scale_embedding"):
        if cfg[k] != CONFIG[k]:
            raise SystemExit(f"{folder}: {k} {cfg[k]} differs from this script's {CONFIG[k]}")
    W = {k: v.to(COMPUTE) for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
    W.setdefault("final_logits_bias", torch.zeros(1, cfg["vocab_size"], dtype=COMPUTE))
    g = read_safetensors(golden_path)
    pe = sinusoidal(16, CONFIG["d_model"])
    with torch.no_grad():
        src_pad = g["input.src_pad"].bool()
        logits = decode(W, g["input.tgt"], encode(W, g["input.src"], src_pad, pe), src_pad, pe)
    err = (logits - g["output.logits"].to(COMPUTE)).abs().max().item()
    print(f"{folder}: logits max abs error {err:.2e} against {golden_path}")
    if err > 1e-4:
        raise SystemExit("mismatch")


def main():
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2], sys.argv[3])
        return
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    stored = {k: v.to(torch.float16) for k, v in make_weights(gen).items()}
    W = {k: v.to(COMPUTE) for k, v in stored.items()}
    V, pad, eos, start = CONFIG["vocab_size"], CONFIG["pad_token_id"], CONFIG["eos_token_id"], CONFIG["decoder_start_token_id"]
    B, S, T = 2, 7, 6
    lengths = [7, 4]
    src = torch.full((B, S), pad, dtype=torch.long)
    for b, n in enumerate(lengths):
        src[b, : n - 1] = torch.randint(1, V - 1, (n - 1,), generator=gen)
        src[b, n - 1] = eos
    src_pad = torch.arange(S)[None, :] >= torch.tensor(lengths)[:, None]
    tgt = torch.randint(1, V - 1, (B, T), generator=gen)
    tgt[:, 0] = start
    pe = sinusoidal(16, CONFIG["d_model"])

    with torch.no_grad():
        memory = encode(W, src, src_pad, pe)
        logits = decode(W, tgt, memory, src_pad, pe)
        seq = torch.full((B, 1), start, dtype=torch.long)
        margin = math.inf
        for _ in range(GREEDY_STEPS):
            last = decode(W, seq, memory, src_pad, pe)[:, -1]
            for (bad,) in CONFIG["bad_words_ids"]:  # HF's NoBadWordsLogitsProcessor
                last[:, bad] = -math.inf
            top = torch.topk(last, 2, dim=-1).values
            margin = min(margin, (top[:, 0] - top[:, 1]).min().item())
            seq = torch.cat([seq, last.argmax(-1, keepdim=True)], dim=1)
    if margin < 1e-3:
        raise SystemExit(f"greedy top-2 margin {margin:.2e} too small for a stable test; change the seed")

    folder = os.path.join(ROOT, "testdata", "hf", NAME)
    write_json(os.path.join(folder, "config.json"), CONFIG)
    write_safetensors(os.path.join(folder, "model.safetensors"), stored, {"format": "pt"})
    golden = {
        "input.src": src,
        "input.src_pad": src_pad.to(torch.uint8),
        "input.tgt": tgt,
        "output.encoder": memory.float(),
        "output.logits": logits.float(),
        "output.greedy": seq[:, 1:].contiguous(),
        "output.positions": pe,
    }
    meta = {
        "case": f"{NAME}: HF MarianMTModel forward, plain torch float64",
        "torch": torch.__version__,
        "generator": "tools/golden/torch_marian.py",
        "seed": SEED,
        "compute_dtype": "float64",
    }
    write_safetensors(os.path.join(folder, "golden.safetensors"), golden, meta)
    print(f"{NAME}: logits |max| {logits.abs().max():.3f}, greedy {seq[:, 1:].tolist()}, top-2 margin {margin:.3g}")


if __name__ == "__main__":
    main()
