#!/usr/bin/python3
"""Write a tiny HuggingFace M2M100 (NLLB-200) folder and PyTorch reference
outputs for model/marian.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_m2m100.py

It writes testdata/hf/m2m100-tiny/: config.json (M2M100Config's fields as
NLLB's config.json has them: model_type "m2m_100", ReLU, scale_embedding,
pad 1, eos = decoder start 2), model.safetensors (random weights in BF16
under M2M100ForConditionalGeneration's names: model.shared.weight, the
layers, model.encoder.layer_norm and model.decoder.layer_norm; lm_head and
the stacks' embed_tokens tied to model.shared and not stored, as HF saves
them) and golden.safetensors: input.src [B,S] I64 (right-padded, each
source a language token, text tokens and </s>), input.src_pad [B,S] U8,
input.tgt [B,T] I64 (decoder input from decoder_start_token_id),
output.encoder [B,S,C], output.logits [B,T,V], output.greedy [B,8] I64 (8
argmax tokens after the start token, the first forced to FORCED as HF's
forced_bos_token_id forces it, not stopped at EOS), output.positions
[pad+1+16, C] (the sinusoidal table).

The forward pass is plain torch after HF's modeling_m2m_100.py: token
embeddings times sqrt(d_model) (M2M100ScaledWordEmbedding) plus
M2M100SinusoidalPositionalEmbedding (fairseq's: row r is sin(r f_k) then
cos(r f_k), f_k = exp(-k ln(10000) / (d/2 - 1)), computed in float32; the
row of a token is padding_idx plus its count among its sequence's
non-padding tokens, a padding token's the zero row padding_idx); pre-LN
layers (x + sublayer(LayerNorm(x)), eps 1e-5) with biases everywhere,
attention q scaled by head_dim^-0.5, ReLU; a LayerNorm after each stack;
logits = decoder output @ model.shared.weight^T (no final_logits_bias).
Weights are drawn in float32 and rounded to bfloat16; the passes run in
float64.
"""

import math
import os
import sys

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_marian import attention, layer_norm, linear  # noqa: E402  (BART's attention, as M2M100's)
from torch_t5 import ROOT, write_json, write_safetensors  # noqa: E402

COMPUTE = torch.float64
SEED = 1305
NAME = "m2m100-tiny"
FORCED = 60  # a "language" token, forced first as NLLB's target language is
OUT_SCALE = 8.0

CONFIG = {
    "activation_dropout": 0.0,
    "activation_function": "relu",
    "architectures": ["M2M100ForConditionalGeneration"],
    "attention_dropout": 0.1,
    "bos_token_id": 0,
    "d_model": 32,
    "decoder_attention_heads": 4,
    "decoder_ffn_dim": 64,
    "decoder_layerdrop": 0,
    "decoder_layers": 2,
    "decoder_start_token_id": 2,
    "dropout": 0.1,
    "encoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "encoder_layerdrop": 0,
    "encoder_layers": 2,
    "eos_token_id": 2,
    "init_std": 0.02,
    "is_encoder_decoder": True,
    "max_length": 200,
    "max_position_embeddings": 32,
    "model_type": "m2m_100",
    "num_hidden_layers": 2,
    "pad_token_id": 1,
    "scale_embedding": True,
    "tokenizer_class": "NllbTokenizer",
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
    "use_cache": True,
    "vocab_size": 64,
}


def positions_table(n, dim, pad):
    """M2M100SinusoidalPositionalEmbedding.get_embedding, in float32."""
    half = dim // 2
    emb = math.log(10000) / (half - 1)
    emb = torch.exp(torch.arange(half, dtype=torch.int64).float() * -emb)
    emb = torch.arange(n, dtype=torch.int64).float().unsqueeze(1) * emb.unsqueeze(0)
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1).view(n, -1)
    emb[pad, :] = 0
    return emb


def position_ids(ids, pad, past=0):
    """create_position_ids_from_input_ids."""
    mask = ids.ne(pad).int()
    return ((torch.cumsum(mask, dim=1).type_as(mask) + past) * mask + pad).long()


def embed(W, ids, pe):
    return W["model.shared.weight"][ids] * math.sqrt(CONFIG["d_model"]) + pe[position_ids(ids, CONFIG["pad_token_id"])].to(COMPUTE)


def encode(W, src, src_pad, pe):
    h = embed(W, src, pe)
    mask = (src_pad.to(COMPUTE) * torch.finfo(COMPUTE).min)[:, None, None, :]
    for i in range(CONFIG["encoder_layers"]):
        p = f"model.encoder.layers.{i}."
        h = h + attention(W, p + "self_attn.", *[layer_norm(W, p + "self_attn_layer_norm.", h)] * 2, mask, CONFIG["encoder_attention_heads"])
        h = h + linear(W, p + "fc2.", torch.relu(linear(W, p + "fc1.", layer_norm(W, p + "final_layer_norm.", h))))
    return layer_norm(W, "model.encoder.layer_norm.", h)


def decode(W, tgt, memory, src_pad, pe):
    T = tgt.shape[1]
    h = embed(W, tgt, pe)
    causal = (~torch.tril(torch.ones(T, T, dtype=torch.bool))).to(COMPUTE) * torch.finfo(COMPUTE).min
    cross = (src_pad.to(COMPUTE) * torch.finfo(COMPUTE).min)[:, None, None, :]
    H = CONFIG["decoder_attention_heads"]
    for i in range(CONFIG["decoder_layers"]):
        p = f"model.decoder.layers.{i}."
        n = layer_norm(W, p + "self_attn_layer_norm.", h)
        h = h + attention(W, p + "self_attn.", n, n, causal[None, None], H)
        h = h + attention(W, p + "encoder_attn.", layer_norm(W, p + "encoder_attn_layer_norm.", h), memory, cross, H)
        h = h + linear(W, p + "fc2.", torch.relu(linear(W, p + "fc1.", layer_norm(W, p + "final_layer_norm.", h))))
    return layer_norm(W, "model.decoder.layer_norm.", h) @ W["model.shared.weight"].T


def make_weights(gen):
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
    for stack, n in (("encoder", CONFIG["encoder_layers"]), ("decoder", CONFIG["decoder_layers"])):
        for i in range(n):
            p = f"model.{stack}.layers.{i}."
            attn(p + "self_attn.")
            ln(p + "self_attn_layer_norm.")
            if stack == "decoder":
                attn(p + "encoder_attn.")
                ln(p + "encoder_attn_layer_norm.")
            lin(p + "fc1.", CONFIG[f"{stack}_ffn_dim"], d)
            lin(p + "fc2.", d, CONFIG[f"{stack}_ffn_dim"], OUT_SCALE)
            ln(p + "final_layer_norm.")
        ln(f"model.{stack}.layer_norm.")
    return W


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    stored = {k: v.to(torch.bfloat16) for k, v in make_weights(gen).items()}
    W = {k: v.to(COMPUTE) for k, v in stored.items()}
    V, pad, eos, start = CONFIG["vocab_size"], CONFIG["pad_token_id"], CONFIG["eos_token_id"], CONFIG["decoder_start_token_id"]
    B, S, T = 2, 7, 6
    lengths = [7, 4]
    src = torch.full((B, S), pad, dtype=torch.long)
    for b, n in enumerate(lengths):
        src[b, 0] = 61 + b  # the source language token, NLLB's first
        src[b, 1:n - 1] = torch.randint(3, 60, (n - 2,), generator=gen)
        src[b, n - 1] = eos
    src_pad = src.eq(pad)
    tgt = torch.randint(3, V, (B, T), generator=gen)
    tgt[:, 0] = start
    pe = positions_table(pad + 1 + 16, CONFIG["d_model"], pad)
    with torch.no_grad():
        memory = encode(W, src, src_pad, pe)
        logits = decode(W, tgt, memory, src_pad, pe)
        seq = torch.full((B, 1), start, dtype=torch.long)
        margin = math.inf
        for step in range(8):
            last = decode(W, seq, memory, src_pad, pe)[:, -1]
            if step == 0:  # ForcedBOSTokenLogitsProcessor
                nxt = torch.full((B, 1), FORCED, dtype=torch.long)
            else:
                top = torch.topk(last, 2, dim=-1).values
                margin = min(margin, (top[:, 0] - top[:, 1]).min().item())
                nxt = last.argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
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
    meta = {"case": f"{NAME}: HF M2M100ForConditionalGeneration forward, plain torch float64", "torch": torch.__version__,
            "generator": "tools/golden/torch_m2m100.py", "seed": SEED, "compute_dtype": "float64"}
    write_safetensors(os.path.join(folder, "golden.safetensors"), golden, meta)
    print(f"{NAME}: logits |max| {logits.abs().max():.3f}, greedy {seq[:, 1:].tolist()}, top-2 margin {margin:.3g}")


if __name__ == "__main__":
    main()
