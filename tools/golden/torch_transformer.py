#!/usr/bin/python3
"""Write PyTorch golden files for the Go Transformer tests.

Run from the repository root (needs the Debian python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_transformer.py            # all cases
    /usr/bin/python3 tools/golden/torch_transformer.py mha_self   # some cases
    /usr/bin/python3 tools/golden/torch_transformer.py --f32-drift

Each case becomes testdata/torch/<case>.safetensors. See tools/golden/README.md
for the naming convention and what every file holds.

Design notes (the "why"):

* Every random draw (weights, inputs, projections) happens in float32 under a
  per-case seed, so the stored F32 values are exactly the values that were used.
  The forward/backward pass is then run in float64 and only the results are
  rounded to float32. A float32 Go implementation is thus compared against a
  reference that carries no float32 rounding error of its own, which keeps the
  tolerances in the Go tests tight and meaningful. `--f32-drift` shows how far
  PyTorch's own float32 run lands from that reference.
* Modules stay in train() mode with grads enabled and dropout 0: in eval/no-grad
  mode PyTorch takes its fused "fast path" (nested tensors), which zeroes the
  outputs at padded positions, and that is not the math the Go side implements.
* Default init leaves every bias at 0 and every LayerNorm at (1, 0), which
  would make a wrong bias/gain gradient invisible; those are re-drawn.
* The file format is written by hand (no safetensors package here) and every
  file is read back with an independent reader and compared bit for bit.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# Reference precision for forward/backward. Stored tensors are always F32.
COMPUTE_DTYPE = torch.float64

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "testdata", "torch")


# --------------------------------------------------------------------------
# safetensors writer / reader
# --------------------------------------------------------------------------

# Only the three dtypes the Go side is promised. Torch dtype -> (tag, numpy dtype).
_DTYPES = {
    torch.float32: ("F32", "<f4"),
    torch.int64: ("I64", "<i8"),
    torch.uint8: ("U8", "u1"),
}
_TAG_TO_TORCH = {"F32": torch.float32, "I64": torch.int64, "U8": torch.uint8}


def to_storage(t):
    """Map a tensor to one of the stored dtypes: floats -> F32, bool -> U8."""
    t = t.detach().cpu()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).contiguous()
    if t.is_floating_point():
        return t.to(torch.float32).contiguous()
    if t.dtype in (torch.int64, torch.int32):
        return t.to(torch.int64).contiguous()
    raise TypeError(f"unsupported dtype {t.dtype}")


def write_safetensors(path, tensors, metadata):
    """Write tensors (already in storage dtypes) in sorted-name order."""
    names = sorted(tensors)
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name in names:
        t = tensors[name]
        tag, npdt = _DTYPES[t.dtype]
        # Explicit little-endian numpy dtype: the file is LE whatever the host.
        raw = t.numpy().astype(npdt, copy=False).tobytes(order="C")
        header[name] = {
            "dtype": tag,
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Pad with spaces so the data section starts 8-byte aligned in the file.
    hjson += b" " * ((-(8 + len(hjson))) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def write_checked(path, tensors, metadata):
    """write_safetensors, then read the file back with the independent reader
    and require the same names, metadata, dtypes, shapes and bytes (bytes, not
    values: -0.0 against 0.0 and NaN payloads count too). metadata is written
    as given: the header is not key-sorted, so its key order is in the bytes."""
    write_safetensors(path, tensors, metadata)
    back, bmeta = read_safetensors(path)
    if set(back) != set(tensors) or bmeta != metadata:
        raise SystemExit(f"{path}: names or metadata differ after reading back")
    for k, v in tensors.items():
        b = back[k]
        if b.dtype != v.dtype or b.shape != v.shape or b.numpy().tobytes() != v.numpy().tobytes():
            raise SystemExit(f"{path}: {k} differs after reading back")


def read_safetensors(path):
    """Independent reader: returns ({name: tensor}, metadata) and checks layout."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    if (8 + hlen) % 8 != 0:
        raise ValueError(f"{path}: data section not 8-byte aligned")
    header = json.loads(data[8 : 8 + hlen].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = data[8 + hlen :]
    out = {}
    expect = 0
    for name in sorted(header):  # sorted order must also be file order, no gaps
        info = header[name]
        begin, end = info["data_offsets"]
        if begin != expect:
            raise ValueError(f"{path}: {name} starts at {begin}, expected {expect}")
        dtype = _TAG_TO_TORCH[info["dtype"]]
        n = math.prod(info["shape"])
        itemsize = torch.tensor([], dtype=dtype).element_size()
        if end - begin != n * itemsize:
            raise ValueError(f"{path}: {name} has {end - begin} bytes for shape {info['shape']}")
        buf = bytearray(body[begin:end])
        t = torch.frombuffer(buf, dtype=dtype) if n else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
        expect = end
    if expect != len(body):
        raise ValueError(f"{path}: {len(body) - expect} trailing bytes")
    return out, metadata


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------


def pad_mask(lengths, T):
    """Boolean [B, T] key padding mask, True where position >= length."""
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]


def causal_mask(T, dtype):
    # Exactly what nn.Transformer uses: 0 on/below the diagonal, -inf above.
    return nn.Transformer.generate_square_subsequent_mask(T).to(dtype)


def randomize_norms_and_biases(model):
    """LayerNorm gain 1+0.1*randn, every LayerNorm/Linear/attention bias 0.1*randn.

    named_modules() visits a shared module once, so tied modules get one draw.
    """
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.Linear):  # includes MHA's out_proj
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.MultiheadAttention):
                if m.in_proj_bias is not None:
                    m.in_proj_bias.copy_(0.1 * torch.randn_like(m.in_proj_bias))


def reinit_cloned_layers(stack):
    """Give each layer of a TransformerEncoder/Decoder its own default init.

    The stacks deep-copy one prototype layer, so without this all layers start
    with identical weights and a Go bug that mixes up layer indices would still
    pass. nn.Transformer re-inits (xavier) on its own; a bare stack does not.
    """
    for layer in stack.layers:
        for m in layer.modules():
            if isinstance(m, nn.MultiheadAttention):
                m._reset_parameters()
            elif isinstance(m, nn.Linear):
                m.reset_parameters()


def snapshot_params(model):
    """param.<name> for every state_dict name (shared tensors appear under each name)."""
    return {f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()}


def collect_grads(model):
    out = {}
    for k, v in model.state_dict(keep_vars=True).items():
        if v.grad is None:
            raise RuntimeError(f"no gradient for {k}")
        out[f"grad.{k}"] = v.grad.detach().clone()
    return out


def sinusoidal_pe(n, d):
    """Interleaved table from the paper: even columns sin, odd columns cos.

    pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(pos / 10000^(2i/d)).
    Built in float64 and rounded once, so the stored table is the one used.
    """
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d, 2, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), two_i / d)
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.to(torch.float32)


def leaf(t, dtype):
    """float32-drawn tensor -> fresh compute-dtype leaf that records its gradient.

    Always a copy: .to() is a no-op when the dtype already matches, and reusing
    the drawn tensor would accumulate .grad across ops sharing one input.
    """
    return t.detach().to(dtype).clone().requires_grad_(True)


# --------------------------------------------------------------------------
# cases: each returns (tensors, one-line description, config dict)
# --------------------------------------------------------------------------

D, H = 48, 3  # 48/3 = 16 per head; 48 is deliberately not a power of two


def _mha_config(**extra):
    cfg = {
        "module": "nn.MultiheadAttention",
        "embed_dim": D,
        "num_heads": H,
        "head_dim": D // H,
        "bias": True,
        "add_bias_kv": False,
        "add_zero_attn": False,
        "dropout": 0.0,
        "batch_first": True,
        "need_weights": False,
        "in_proj_layout": "in_proj_weight rows [0:E)=q, [E:2E)=k, [2E:3E)=v; y = x @ W^T + b",
        "mask_convention": "key_padding_mask U8 1 = padded key (excluded)",
        "loss": "sum(output.y * input.proj)",
    }
    cfg.update(extra)
    return cfg


def _new_mha(dtype):
    mha = nn.MultiheadAttention(D, H, dropout=0.0, bias=True, batch_first=True)
    randomize_norms_and_biases(mha)
    mha.train()
    params = snapshot_params(mha)
    return mha.to(dtype), params


def case_mha_self(dtype):
    B, T, lengths = 3, 7, [7, 5, 2]
    mha, params = _new_mha(dtype)
    x32 = torch.randn(B, T, D)
    proj = torch.randn(B, T, D)
    mask = pad_mask(lengths, T)
    x = leaf(x32, dtype)
    y, _ = mha(x, x, x, key_padding_mask=mask, need_weights=False)
    loss = (y * proj.to(dtype)).sum()
    loss.backward()
    t = {**params, **collect_grads(mha)}
    t.update({
        "input.x": x32, "input.key_padding_mask": mask, "input.proj": proj,
        "output.y": y, "output.loss": loss.reshape(1), "grad.input.x": x.grad,
    })
    cfg = _mha_config(batch=B, seq_len=T, lengths=lengths, attn_mask=None, query_key_value="x,x,x")
    return t, "nn.MultiheadAttention self-attention with key padding mask", cfg


def case_mha_causal(dtype):
    B, T, lengths = 3, 7, [7, 5, 2]
    mha, params = _new_mha(dtype)
    x32 = torch.randn(B, T, D)
    proj = torch.randn(B, T, D)
    mask = pad_mask(lengths, T)
    attn_mask = causal_mask(T, dtype)
    x = leaf(x32, dtype)
    y, _ = mha(x, x, x, key_padding_mask=mask, attn_mask=attn_mask, need_weights=False)
    loss = (y * proj.to(dtype)).sum()
    loss.backward()
    t = {**params, **collect_grads(mha)}
    t.update({
        "input.x": x32, "input.key_padding_mask": mask, "input.attn_mask": attn_mask,
        "input.proj": proj, "output.y": y, "output.loss": loss.reshape(1),
        "grad.input.x": x.grad,
    })
    cfg = _mha_config(
        batch=B, seq_len=T, lengths=lengths, query_key_value="x,x,x",
        attn_mask="causal: generate_square_subsequent_mask(T), F32 additive, -inf above diagonal",
    )
    return t, "nn.MultiheadAttention causal self-attention with key padding mask", cfg


def case_mha_cross(dtype):
    B, TQ, TK, lengths = 3, 5, 9, [9, 6, 1]
    mha, params = _new_mha(dtype)
    q32 = torch.randn(B, TQ, D)
    m32 = torch.randn(B, TK, D)
    proj = torch.randn(B, TQ, D)
    mask = pad_mask(lengths, TK)
    q, m = leaf(q32, dtype), leaf(m32, dtype)
    y, _ = mha(q, m, m, key_padding_mask=mask, need_weights=False)
    loss = (y * proj.to(dtype)).sum()
    loss.backward()
    t = {**params, **collect_grads(mha)}
    t.update({
        "input.query": q32, "input.memory": m32, "input.key_padding_mask": mask,
        "input.proj": proj, "output.y": y, "output.loss": loss.reshape(1),
        "grad.input.query": q.grad, "grad.input.memory": m.grad,
    })
    cfg = _mha_config(
        batch=B, query_len=TQ, memory_len=TK, memory_lengths=lengths, attn_mask=None,
        query_key_value="query,memory,memory",
    )
    return t, "nn.MultiheadAttention cross-attention, key padding mask on memory", cfg


def _encoder_case(dtype, norm_first, activation, final_norm):
    B, T, lengths, FF, L = 3, 7, [7, 5, 2], 80, 2
    layer = nn.TransformerEncoderLayer(
        D, H, dim_feedforward=FF, dropout=0.0, activation=activation,
        batch_first=True, norm_first=norm_first,
    )
    enc = nn.TransformerEncoder(
        layer, num_layers=L, norm=nn.LayerNorm(D) if final_norm else None,
        enable_nested_tensor=False,
    )
    reinit_cloned_layers(enc)
    randomize_norms_and_biases(enc)
    enc.train()
    params = snapshot_params(enc)
    enc = enc.to(dtype)
    x32 = torch.randn(B, T, D)
    proj = torch.randn(B, T, D)
    mask = pad_mask(lengths, T)
    x = leaf(x32, dtype)
    y = enc(x, src_key_padding_mask=mask)
    loss = (y * proj.to(dtype)).sum()
    loss.backward()
    t = {**params, **collect_grads(enc)}
    t.update({
        "input.x": x32, "input.src_key_padding_mask": mask, "input.proj": proj,
        "output.y": y, "output.loss": loss.reshape(1), "grad.input.x": x.grad,
    })
    cfg = {
        "module": "nn.TransformerEncoder",
        "d_model": D, "nhead": H, "num_layers": L, "num_encoder_layers": L,
        "dim_feedforward": FF, "activation": activation, "norm_first": norm_first,
        "layer_norm_eps": 1e-5, "final_norm": final_norm, "dropout": 0.0,
        "bias": True, "batch_first": True, "batch": B, "seq_len": T, "lengths": lengths,
        "mask_convention": "src_key_padding_mask U8 1 = padded key (excluded)",
        "padded_positions": "computed normally (not zeroed) and included in the loss",
        "loss": "sum(output.y * input.proj)",
    }
    if activation == "gelu":
        cfg["gelu"] = "exact erf form"
    return t, cfg


def case_encoder_postln_relu(dtype):
    t, cfg = _encoder_case(dtype, norm_first=False, activation="relu", final_norm=False)
    return t, "2-layer post-LN ReLU TransformerEncoder, no final norm, key padding mask", cfg


def case_encoder_preln_gelu(dtype):
    t, cfg = _encoder_case(dtype, norm_first=True, activation="gelu", final_norm=True)
    return t, "2-layer pre-LN GELU TransformerEncoder with final LayerNorm, key padding mask", cfg


class Seq2Seq(nn.Module):
    """Embeddings + nn.Transformer's encoder/decoder + generator.

    nn.Transformer is built but not registered, so state_dict names are
    src_embed.*, tgt_embed.*, encoder.*, decoder.*, generator.* (no tr. prefix).
    """

    def __init__(self, d, h, act, nf, src_vocab, tgt_vocab, shared):
        super().__init__()
        self.d = d
        self.src_embed = nn.Embedding(src_vocab, d)
        self.tgt_embed = self.src_embed if shared else nn.Embedding(tgt_vocab, d)
        tr = nn.Transformer(
            d_model=d, nhead=h, num_encoder_layers=2, num_decoder_layers=2,
            dim_feedforward=80, dropout=0.0, activation=act, batch_first=True,
            norm_first=nf,
        )
        self.encoder = tr.encoder
        self.encoder.enable_nested_tensor = False  # belt and braces: no fast path
        self.decoder = tr.decoder
        self.generator = nn.Linear(d, tgt_vocab)
        if shared:
            self.generator.weight = self.src_embed.weight  # tied; bias stays its own

    def forward(self, src, tgt_in, src_pad, tgt_pad, pe):
        S, T = src.shape[1], tgt_in.shape[1]
        scale = math.sqrt(self.d)
        s = self.src_embed(src) * scale + pe[:S]
        t = self.tgt_embed(tgt_in) * scale + pe[:T]
        mem = self.encoder(s, src_key_padding_mask=src_pad)
        out = self.decoder(
            t, mem, tgt_mask=causal_mask(T, pe.dtype), tgt_key_padding_mask=tgt_pad,
            memory_key_padding_mask=src_pad,
        )
        return self.generator(out), {"src_embedded": s, "tgt_embedded": t, "memory": mem, "decoder_out": out}


def _seq2seq_case(dtype, d, h, act, nf, src_vocab, tgt_vocab, shared):
    B, PAD, LS = 3, 0, 0.1
    src_len, tgt_len = [6, 4, 2], [5, 3, 1]
    S, T = max(src_len), max(tgt_len)
    model = Seq2Seq(d, h, act, nf, src_vocab, tgt_vocab, shared)
    randomize_norms_and_biases(model)
    model.train()
    params = snapshot_params(model)
    model = model.to(dtype)

    src_pad, tgt_pad = pad_mask(src_len, S), pad_mask(tgt_len, T)
    # Real ids avoid pad_id, so the masks and the ignore_index agree exactly.
    src = torch.randint(1, src_vocab, (B, S)).masked_fill(src_pad, PAD)
    tgt_in = torch.randint(1, tgt_vocab, (B, T)).masked_fill(tgt_pad, PAD)
    tgt_out = torch.randint(1, tgt_vocab, (B, T)).masked_fill(tgt_pad, PAD)
    pe32 = sinusoidal_pe(max(S, T), d)

    logits, inter = model(src, tgt_in, src_pad, tgt_pad, pe32.to(dtype))
    loss = F.cross_entropy(
        logits.reshape(-1, tgt_vocab), tgt_out.reshape(-1), ignore_index=PAD, label_smoothing=LS,
    )
    loss.backward()

    t = {**params, **collect_grads(model)}
    t.update({
        "input.src": src, "input.tgt_in": tgt_in, "input.tgt_out": tgt_out,
        "input.src_pad": src_pad, "input.tgt_pad": tgt_pad, "input.pe": pe32,
        "input.tgt_mask": causal_mask(T, torch.float32),
        "output.logits": logits, "output.loss": loss.reshape(1),
    })
    # Intermediates, so a Go mismatch can be bisected without re-running torch.
    t.update({f"output.{k}": v for k, v in inter.items()})
    cfg = {
        "module": "Seq2Seq(src_embed, tgt_embed, nn.Transformer encoder/decoder, generator)",
        "d_model": d, "nhead": h, "num_encoder_layers": 2, "num_decoder_layers": 2,
        "dim_feedforward": 80, "activation": act, "norm_first": nf, "layer_norm_eps": 1e-5,
        "dropout": 0.0, "bias": True, "batch_first": True,
        "encoder_final_norm": True, "decoder_final_norm": True,
        "src_vocab_size": src_vocab, "tgt_vocab_size": tgt_vocab,
        "shared_embeddings": shared, "tie_generator": shared,
        "pad_id": PAD, "ignore_index": PAD, "label_smoothing": LS,
        "loss": "F.cross_entropy(logits.reshape(-1,V), tgt_out.reshape(-1), ignore_index=pad_id, "
                "label_smoothing, reduction=mean over non-ignored)",
        "embed_scale": math.sqrt(d), "embed_scale_expr": "sqrt(d_model)",
        "positional_encoding": "sinusoidal interleaved: pe[p,2i]=sin(p/10000^(2i/d)), pe[p,2i+1]=cos(same)",
        "pe_base": 10000.0, "pe_added_after_scale": True,
        "init": "nn.Transformer xavier_uniform on >1-D encoder/decoder params; nn.Embedding N(0,1); "
                "LayerNorm weight 1+0.1*randn; all biases 0.1*randn",
        "tgt_mask": "causal, generate_square_subsequent_mask(T), -inf above diagonal",
        "memory_key_padding_mask": "same as src_pad",
        "mask_convention": "src_pad/tgt_pad U8 1 = padded",
        "batch": B, "src_len": S, "tgt_len": T, "src_lengths": src_len, "tgt_lengths": tgt_len,
    }
    return t, cfg


def case_seq2seq_postln_relu(dtype):
    t, cfg = _seq2seq_case(dtype, D, H, "relu", False, 23, 19, shared=False)
    return t, "encoder-decoder Transformer, post-LN ReLU, separate vocabularies, label-smoothed CE", cfg


def case_seq2seq_preln_gelu(dtype):
    t, cfg = _seq2seq_case(dtype, D, H, "gelu", True, 23, 19, shared=False)
    cfg["gelu"] = "exact erf form"
    return t, "encoder-decoder Transformer, pre-LN GELU, separate vocabularies, label-smoothed CE", cfg


def case_seq2seq_shared_tied(dtype):
    t, cfg = _seq2seq_case(dtype, 32, 4, "relu", False, 21, 21, shared=True)
    cfg["vocab_size"] = 21
    cfg["shared_names"] = ["src_embed.weight", "tgt_embed.weight", "generator.weight"]
    cfg["shared_grad"] = "grad.<each shared name> is the one shared tensor's total gradient"
    return t, ("encoder-decoder Transformer d=32 h=4 post-LN ReLU, one vocabulary, "
               "tgt_embed = src_embed, generator.weight tied to it"), cfg


def case_cross_entropy(dtype):
    N, C, IGN = 12, 11, 1
    logits32 = 3.0 * torch.randn(N, C)
    # Exactly 3 targets are the ignore index; the other 9 are distinct classes
    # and always include 0, so a Go side that hard-codes ignore=0 (the seq2seq
    # pad id) or only looks at a few classes fails here.
    others = torch.tensor([c for c in range(C) if c not in (0, IGN)])
    real = torch.cat([torch.tensor([0]), others[torch.randperm(len(others))[: N - 4]]])
    real = real[torch.randperm(len(real))]
    ignored = torch.zeros(N, dtype=torch.bool)
    ignored[torch.randperm(N)[:3]] = True
    targets = torch.full((N,), IGN, dtype=torch.int64)
    targets[~ignored] = real
    t = {"input.logits": logits32, "input.targets": targets}
    for suffix, ls in (("ls", 0.1), ("plain", 0.0)):
        x = leaf(logits32, dtype)
        loss = F.cross_entropy(x, targets, ignore_index=IGN, label_smoothing=ls)
        loss.backward()
        t[f"output.loss_{suffix}"] = loss.reshape(1)
        t[f"grad.input.logits_{suffix}"] = x.grad
    cfg = {
        "op": "F.cross_entropy", "num_classes": C, "n": N, "ignore_index": IGN,
        "num_ignored": int((targets == IGN).sum()), "reduction": "mean over non-ignored",
        "label_smoothing": {"ls": 0.1, "plain": 0.0},
        "label_smoothing_formula": "(1-eps)*nll + eps*mean_c(-log_softmax)",
    }
    return t, "F.cross_entropy with ignore_index=1, with and without label smoothing 0.1", cfg


def case_adam(dtype):
    STEPS, LR, BETAS, EPS, MAXN = 5, 1e-2, (0.9, 0.98), 1e-9, 1.0
    p0, q0 = torch.randn(5, 7), torch.randn(3)
    grads = []
    for k in range(1, STEPS + 1):
        gp, gq = torch.randn(5, 7), torch.randn(3)
        if k == 3:
            # Small enough (norm < max_norm) that clipping must leave it alone.
            gp, gq = 0.05 * gp, 0.05 * gq
        grads.append((gp, gq))

    t = {"input.p0": p0, "input.q0": q0}
    for k, (gp, gq) in enumerate(grads, 1):
        t[f"input.grad.p.step{k}"] = gp
        t[f"input.grad.q.step{k}"] = gq

    runs = {
        "adam": (torch.optim.Adam, dict(lr=LR, betas=BETAS, eps=EPS), False),
        "adam_l2": (torch.optim.Adam, dict(lr=LR, betas=BETAS, eps=EPS, weight_decay=0.01), False),
        "adamw": (torch.optim.AdamW, dict(lr=LR, betas=BETAS, eps=EPS, weight_decay=0.1), False),
        "adam_clip": (torch.optim.Adam, dict(lr=LR, betas=BETAS, eps=EPS), True),
    }
    for tag, (cls, kw, clip) in runs.items():
        p = nn.Parameter(p0.to(dtype).clone())
        q = nn.Parameter(q0.to(dtype).clone())
        opt = cls([p, q], **kw)
        for k, (gp, gq) in enumerate(grads, 1):
            p.grad, q.grad = gp.to(dtype).clone(), gq.to(dtype).clone()
            if clip:
                norm = torch.nn.utils.clip_grad_norm_([p, q], max_norm=MAXN)
                t[f"output.clip_norm.step{k}"] = norm.reshape(1)
            opt.step()
            t[f"output.{tag}.p.step{k}"] = p.detach().clone()
            t[f"output.{tag}.q.step{k}"] = q.detach().clone()
    cfg = {
        "steps": STEPS, "params": {"p": [5, 7], "q": [3]},
        "adam": {"optimizer": "torch.optim.Adam", "lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": 0.0},
        "adam_l2": {"optimizer": "torch.optim.Adam", "lr": LR, "betas": list(BETAS), "eps": EPS,
                    "weight_decay": 0.01, "weight_decay_kind": "L2: grad += wd*param before moments"},
        "adamw": {"optimizer": "torch.optim.AdamW", "lr": LR, "betas": list(BETAS), "eps": EPS,
                  "weight_decay": 0.1, "weight_decay_kind": "decoupled: param *= 1 - lr*wd before the Adam update"},
        "adam_clip": {"optimizer": "torch.optim.Adam", "lr": LR, "betas": list(BETAS), "eps": EPS,
                      "weight_decay": 0.0, "clip_grad_norm": {"max_norm": MAXN, "norm_type": 2.0,
                      "over": ["p", "q"], "coef": "min(1, max_norm/(total_norm+1e-6))"}},
        "amsgrad": False, "maximize": False,
        "update": "m=b1*m+(1-b1)g; v=b2*v+(1-b2)g^2; p -= lr/(1-b1^k) * m / (sqrt(v)/sqrt(1-b2^k) + eps)",
        "step3_grads_scaled": "x0.05 so the clip is inactive at step 3",
    }
    return t, "Adam / Adam+L2 / AdamW / clip_grad_norm_+Adam trajectories over 5 fixed gradient steps", cfg


def case_layernorm_gelu(dtype):
    N, C, EPS = 4, 10, 1e-5
    x32 = torch.randn(N, C)
    w32 = 1.0 + 0.1 * torch.randn(C)
    b32 = 0.1 * torch.randn(C)
    proj = torch.randn(N, C)
    R = proj.to(dtype)
    t = {"input.x": x32, "input.ln_w": w32, "input.ln_b": b32, "input.proj": proj}

    x, w, b = leaf(x32, dtype), leaf(w32, dtype), leaf(b32, dtype)
    y = F.layer_norm(x, (C,), w, b, eps=EPS)
    loss = (y * R).sum()
    loss.backward()
    t.update({"output.ln": y, "output.loss_ln": loss.reshape(1), "grad.input.x_ln": x.grad,
              "grad.param.ln_w": w.grad, "grad.param.ln_b": b.grad})

    for suffix, approx in (("gelu", "none"), ("gelu_tanh", "tanh")):
        x = leaf(x32, dtype)
        y = F.gelu(x, approximate=approx)
        loss = (y * R).sum()
        loss.backward()
        t.update({f"output.{suffix}": y, f"output.loss_{suffix}": loss.reshape(1),
                  f"grad.input.x_{suffix}": x.grad})
    cfg = {
        "layer_norm": {"normalized_shape": [C], "eps": EPS, "variance": "biased (divide by C)"},
        "gelu": "exact: 0.5*x*(1+erf(x/sqrt(2)))",
        "gelu_tanh": "0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))",
        "loss": "sum(y * input.proj) for each op separately",
        "shape": [N, C],
    }
    return t, "op-level checks: F.layer_norm forward/backward, exact and tanh GELU", cfg


def case_muon(dtype):
    """Muon (KellerJordan/Muon's muon_update and SingleDeviceMuon step, in
    plain torch and the compute dtype instead of bfloat16) on two Linear
    weights in PyTorch's [out, in] layout: one wide (out > in) and one tall,
    so both branches of the Newton-Schulz iteration and the fan-out/fan-in
    scale are exercised. The Go side stores weights [in, out] (GPT-2's
    Conv1D): the files hold the transposes under input./output."""
    STEPS, LR, MOM, WD, NS = 4, 0.02, 0.95, 0.1, 5
    a, b, c = (3.4445, -4.7750, 2.0315)

    def ns5(G):
        X = G
        if G.size(-2) > G.size(-1):
            X = X.mT
        X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
        for _ in range(NS):
            A = X @ X.mT
            B = b * A + c * A @ A
            X = a * X + B @ X
        if G.size(-2) > G.size(-1):
            X = X.mT
        return X

    shapes = {"w": (10, 6), "u": (5, 12)}  # [out, in]
    ws = {n: torch.randn(*s) for n, s in shapes.items()}
    grads = [{n: torch.randn(*s) for n, s in shapes.items()} for _ in range(STEPS)]
    t = {}
    for n in shapes:
        t[f"input.{n}0"] = ws[n].t().contiguous()
        for k in range(STEPS):
            t[f"input.grad.{n}.step{k + 1}"] = grads[k][n].t().contiguous()
    for n in shapes:
        p = ws[n].to(dtype).clone()
        mom = torch.zeros_like(p)
        for k in range(STEPS):
            g = grads[k][n].to(dtype).clone()
            mom.lerp_(g, 1 - MOM)
            upd = g.lerp_(mom, MOM)
            upd = ns5(upd) * max(1, p.size(-2) / p.size(-1)) ** 0.5
            p.mul_(1 - LR * WD)
            p.add_(upd, alpha=-LR)
            t[f"output.{n}.step{k + 1}"] = p.t().contiguous().clone()
    cfg = {"steps": STEPS, "lr": LR, "momentum": MOM, "nesterov": True, "weight_decay": WD,
           "ns_steps": NS, "ns_coefficients": [a, b, c], "torch_layout_shapes": shapes,
           "stored": "transposed, [in, out]",
           "update": "m=lerp(m,g,1-mom); u=lerp(g,m,mom); u=NS5(u)*sqrt(max(1,out/in)); p*=1-lr*wd; p-=lr*u"}
    return t, "Muon (momentum 0.95, Nesterov, 5 Newton-Schulz steps) over 4 fixed gradient steps", cfg


def case_seq2seq_train(dtype):
    """The training step `attn bench train` times, scaled down: Adam steps on its one batch."""
    STEPS, B, S, T, LR, BETAS, EPS, LS, PAD = 10, 4, 7, 6, 2e-3, (0.9, 0.98), 1e-9, 0.1, 0
    src_vocab, tgt_vocab = 23, 19
    model = Seq2Seq(D, H, "relu", False, src_vocab, tgt_vocab, False)
    randomize_norms_and_biases(model)
    model.train()
    params = snapshot_params(model)
    model = model.to(dtype)
    # As in the benchmark: one batch of random ids that are never the ignored
    # pad id, no padding, every step.
    src = torch.randint(1, src_vocab, (B, S))
    tgt_in = torch.randint(1, tgt_vocab, (B, T))
    tgt_out = torch.randint(1, tgt_vocab, (B, T))
    no_pad_s, no_pad_t = torch.zeros(B, S, dtype=torch.bool), torch.zeros(B, T, dtype=torch.bool)
    pe = sinusoidal_pe(max(S, T), D).to(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for k in range(STEPS):
        opt.zero_grad(set_to_none=True)
        logits, _ = model(src, tgt_in, no_pad_s, no_pad_t, pe)
        loss = F.cross_entropy(logits.reshape(-1, tgt_vocab), tgt_out.reshape(-1),
                               ignore_index=PAD, label_smoothing=LS)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    t = {**params, "input.src": src, "input.tgt_in": tgt_in, "input.tgt_out": tgt_out,
         "output.losses": torch.stack(losses)}
    t.update({f"final.{k}": v.detach().clone() for k, v in model.state_dict().items()})
    cfg = {
        "d_model": D, "nhead": H, "num_encoder_layers": 2, "num_decoder_layers": 2,
        "dim_feedforward": 80, "activation": "relu", "norm_first": False, "layer_norm_eps": 1e-5,
        "dropout": 0.0, "src_vocab_size": src_vocab, "tgt_vocab_size": tgt_vocab,
        "shared_embeddings": False, "tie_generator": False, "pad_id": PAD, "label_smoothing": LS,
        "steps": STEPS, "batch": B, "src_len": S, "tgt_len": T,
        "optimizer": "torch.optim.Adam", "lr": LR, "betas": list(BETAS), "eps": EPS,
        "loop": "per step k: zero_grad(set_to_none); loss on the batch; backward; step; "
                "output.losses[k] is the loss before step k's update",
        "init": "as seq2seq_postln_relu",
    }
    return t, ("encoder-decoder Transformer post-LN ReLU trained 10 Adam steps (the benchmark's "
               "step, scaled down): losses and final parameters"), cfg


# name -> (seed, builder). Seeds are fixed per case so one case can be
# regenerated or added without changing any other file.
CASES = {
    "mha_self": (101, case_mha_self),
    "mha_causal": (102, case_mha_causal),
    "mha_cross": (103, case_mha_cross),
    "encoder_postln_relu": (104, case_encoder_postln_relu),
    "encoder_preln_gelu": (105, case_encoder_preln_gelu),
    "seq2seq_postln_relu": (106, case_seq2seq_postln_relu),
    "seq2seq_preln_gelu": (107, case_seq2seq_preln_gelu),
    "seq2seq_shared_tied": (108, case_seq2seq_shared_tied),
    "cross_entropy": (109, case_cross_entropy),
    "adam": (110, case_adam),
    "layernorm_gelu": (111, case_layernorm_gelu),
    "muon": (112, case_muon),
    "seq2seq_train": (113, case_seq2seq_train),
}


def build(name, dtype):
    seed, fn = CASES[name]
    torch.manual_seed(seed)
    tensors, desc, cfg = fn(dtype)
    return {k: to_storage(v) for k, v in tensors.items()}, desc, cfg


def f32_drift(name, ref):
    """Max |torch-f32 - f64 reference| per tensor, relative to the tensor's max |value|."""
    got, _, _ = build(name, torch.float32)
    rows = []
    for k in sorted(ref):
        a, b = ref[k], got[k]
        if not a.is_floating_point() or k.startswith(("param.", "input.")):
            continue
        err = (a.double() - b.double()).abs().max().item()
        scale = a.double().abs().max().item()
        rows.append((err / scale if scale else err, err, k))
    return sorted(rows, reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--f32-drift", action="store_true",
                    help="also run each case in float32 and print the worst differences")
    args = ap.parse_args()
    names = args.cases or list(CASES)
    for n in names:
        if n not in CASES:
            sys.exit(f"unknown case {n!r}; known: {', '.join(CASES)}")

    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        tensors, desc, cfg = build(name, COMPUTE_DTYPE)
        meta = {
            "case": desc,
            "torch": torch.__version__,
            "config": json.dumps(cfg, sort_keys=True),
            "compute_dtype": str(COMPUTE_DTYPE).replace("torch.", ""),
            "seed": str(CASES[name][0]),
            "generator": "tools/golden/torch_transformer.py",
        }
        path = os.path.join(args.out, f"{name}.safetensors")
        write_checked(path, tensors, meta)
        for k, v in tensors.items():
            if v.is_floating_point() and not k.startswith("input.") and not torch.isfinite(v).all():
                raise SystemExit(f"{path}: {k} has non-finite values")
        print(f"{name:22s} {os.path.getsize(path):8d} bytes  {len(tensors):3d} tensors  ok")

        if args.f32_drift:
            for rel, err, k in f32_drift(name, tensors)[:3]:
                print(f"    f32 drift {k:45s} abs {err:.2e} rel-to-max {rel:.2e}")


if __name__ == "__main__":
    main()
