#!/usr/bin/python3
"""Re-derive every golden file from its own stored tensors, without nn modules.

    /usr/bin/python3 tools/golden/check.py [--dir testdata/torch] [-v]

torch_transformer.py already checks that each file reads back bit for bit.
This script checks something else: that the *stored* tensors plus the config
metadata are enough to reproduce the outputs and gradients with plain tensor
math (the same math the Go side implements). It re-implements multi-head
attention, the encoder/decoder layers, the seq2seq model, cross entropy with
label smoothing, Adam/AdamW/clipping, LayerNorm and GELU from scratch, in
float64, with autograd only for the backward pass. If a naming, layout or
convention question is answered wrongly in the README, this fails.
"""

import argparse
import json
import math
import os
import sys

import torch

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_transformer import DEFAULT_OUT, read_safetensors  # noqa: E402

DT = torch.float64
# Inputs are exact in both runs, so only float64 rounding separates them.
RTOL, ATOL = 1e-5, 1e-6
VERBOSE = False


def close(name, got, want):
    got = got.detach().to(DT)
    want = want.to(DT)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}")
    err = (got - want).abs().max().item() if got.numel() else 0.0
    tol = ATOL + RTOL * want.abs().max().item()
    if not err <= tol:
        raise AssertionError(f"{name}: max abs err {err:.3e} > tol {tol:.3e}")
    if VERBOSE:
        print(f"    {name:50s} err {err:.1e}")


class P:
    """Stored param.* tensors as float64 leaves, looked up by state_dict name.

    Tied names (same values) map to one leaf, as they do in the model, so the
    leaf's grad is the total grad the file should store under each name.
    """

    def __init__(self, t, tied=()):
        self.leaf = {}
        for k, v in t.items():
            if k.startswith("param."):
                self.leaf[k[6:]] = v.to(DT).requires_grad_(True)
        for group in tied:
            for name in group[1:]:
                assert torch.equal(self.leaf[name], self.leaf[group[0]]), name
                self.leaf[name] = self.leaf[group[0]]

    def __getitem__(self, k):
        return self.leaf[k]

    def check_grads(self, t):
        for k, v in self.leaf.items():
            close(f"grad.{k}", v.grad, t[f"grad.{k}"])


def linear(x, w, b):
    return x @ w.T + b


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def mha(p, pre, q_in, kv_in, nhead, key_pad=None, attn_mask=None):
    """Packed in_proj: rows [0,E) query, [E,2E) key, [2E,3E) value."""
    W, b = p[pre + "in_proj_weight"], p[pre + "in_proj_bias"]
    E = q_in.shape[-1]
    hd = E // nhead
    q = linear(q_in, W[:E], b[:E])
    k = linear(kv_in, W[E : 2 * E], b[E : 2 * E])
    v = linear(kv_in, W[2 * E :], b[2 * E :])

    def heads(x):  # [B,T,E] -> [B,h,T,hd]
        B, T, _ = x.shape
        return x.reshape(B, T, nhead, hd).transpose(1, 2)

    q, k, v = heads(q), heads(k), heads(v)
    s = q @ k.transpose(-1, -2) / math.sqrt(hd)  # [B,h,Tq,Tk]
    if attn_mask is not None:
        s = s + attn_mask.to(DT)
    if key_pad is not None:
        s = s.masked_fill(key_pad.bool()[:, None, None, :], float("-inf"))
    a = torch.softmax(s, -1) @ v
    B, _, T, _ = a.shape
    a = a.transpose(1, 2).reshape(B, T, E)
    return linear(a, p[pre + "out_proj.weight"], p[pre + "out_proj.bias"])


def act_fn(name):
    return {"relu": torch.relu, "gelu": gelu}[name]


def enc_layer(p, pre, x, c, key_pad):
    eps, act = c["layer_norm_eps"], act_fn(c["activation"])
    sa = lambda y: mha(p, pre + "self_attn.", y, y, c["nhead"], key_pad)
    ff = lambda y: linear(act(linear(y, p[pre + "linear1.weight"], p[pre + "linear1.bias"])),
                          p[pre + "linear2.weight"], p[pre + "linear2.bias"])
    n = lambda i, y: layer_norm(y, p[f"{pre}norm{i}.weight"], p[f"{pre}norm{i}.bias"], eps)
    if c["norm_first"]:
        x = x + sa(n(1, x))
        return x + ff(n(2, x))
    x = n(1, x + sa(x))
    return n(2, x + ff(x))


def dec_layer(p, pre, x, mem, c, tgt_mask, tgt_pad, mem_pad):
    eps, act = c["layer_norm_eps"], act_fn(c["activation"])
    sa = lambda y: mha(p, pre + "self_attn.", y, y, c["nhead"], tgt_pad, tgt_mask)
    ca = lambda y: mha(p, pre + "multihead_attn.", y, mem, c["nhead"], mem_pad)
    ff = lambda y: linear(act(linear(y, p[pre + "linear1.weight"], p[pre + "linear1.bias"])),
                          p[pre + "linear2.weight"], p[pre + "linear2.bias"])
    n = lambda i, y: layer_norm(y, p[f"{pre}norm{i}.weight"], p[f"{pre}norm{i}.bias"], eps)
    if c["norm_first"]:
        x = x + sa(n(1, x))
        x = x + ca(n(2, x))
        return x + ff(n(3, x))
    x = n(1, x + sa(x))
    x = n(2, x + ca(x))
    return n(3, x + ff(x))


def cross_entropy(logits, targets, ignore, ls):
    logp = torch.log_softmax(logits, -1)
    keep = targets != ignore
    nll = -logp.gather(1, targets.clamp(min=0)[:, None])[:, 0]
    smooth = -logp.mean(-1)
    per = (1 - ls) * nll + ls * smooth
    return (per * keep).sum() / keep.sum()


def proj_loss(t, y):
    return (y * t["input.proj"].to(DT)).sum()


def check_mha(t, c):
    p = P(t)
    if "input.query" in t:
        q = t["input.query"].to(DT).requires_grad_(True)
        m = t["input.memory"].to(DT).requires_grad_(True)
        y = mha(p, "", q, m, c["num_heads"], t["input.key_padding_mask"])
        ins = {"query": q, "memory": m}
    else:
        x = t["input.x"].to(DT).requires_grad_(True)
        y = mha(p, "", x, x, c["num_heads"], t["input.key_padding_mask"], t.get("input.attn_mask"))
        ins = {"x": x}
    loss = proj_loss(t, y)
    loss.backward()
    close("output.y", y, t["output.y"])
    close("output.loss", loss.reshape(1), t["output.loss"])
    p.check_grads(t)
    for k, v in ins.items():
        close(f"grad.input.{k}", v.grad, t[f"grad.input.{k}"])


def check_encoder(t, c):
    p = P(t)
    x = t["input.x"].to(DT).requires_grad_(True)
    y = x
    for i in range(c["num_layers"]):
        y = enc_layer(p, f"layers.{i}.", y, c, t["input.src_key_padding_mask"])
    if c["final_norm"]:
        y = layer_norm(y, p["norm.weight"], p["norm.bias"], c["layer_norm_eps"])
    loss = proj_loss(t, y)
    loss.backward()
    close("output.y", y, t["output.y"])
    close("output.loss", loss.reshape(1), t["output.loss"])
    p.check_grads(t)
    close("grad.input.x", x.grad, t["grad.input.x"])


def sinusoidal(n, d):
    """The paper's table: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(same)."""
    ang = torch.arange(n, dtype=DT)[:, None] / 10000 ** (torch.arange(0, d, 2, dtype=DT) / d)
    return torch.stack([ang.sin(), ang.cos()], -1).reshape(n, d)


def seq2seq_logits(p, src, tgt_in, c, pe, src_pad, tgt_pad, inter=None):
    """The seq2seq model's logits; inter, if given, receives the intermediates
    the golden files store (embedded inputs, memory, decoder output)."""
    S, T, d, eps = src.shape[1], tgt_in.shape[1], c["d_model"], c["layer_norm_eps"]
    tri = torch.triu(torch.full((T, T), float("-inf"), dtype=DT), 1)
    s = p["src_embed.weight"][src] * math.sqrt(d) + pe[:S]
    x = p["tgt_embed.weight"][tgt_in] * math.sqrt(d) + pe[:T]
    mem = s
    for i in range(c["num_encoder_layers"]):
        mem = enc_layer(p, f"encoder.layers.{i}.", mem, c, src_pad)
    mem = layer_norm(mem, p["encoder.norm.weight"], p["encoder.norm.bias"], eps)
    if inter is not None:
        inter.update(src_embedded=s, tgt_embedded=x, memory=mem)
    for i in range(c["num_decoder_layers"]):
        x = dec_layer(p, f"decoder.layers.{i}.", x, mem, c, tri, tgt_pad, src_pad)
    x = layer_norm(x, p["decoder.norm.weight"], p["decoder.norm.bias"], eps)
    if inter is not None:
        inter["decoder_out"] = x
    return linear(x, p["generator.weight"], p["generator.bias"])


def check_seq2seq(t, c):
    tied = [c["shared_names"]] if c.get("shared_names") else []
    p = P(t, tied)
    src, tgt_in, tgt_out = t["input.src"], t["input.tgt_in"], t["input.tgt_out"]
    src_pad, tgt_pad = t["input.src_pad"], t["input.tgt_pad"]
    # Masks must agree with the ids; the Go side may derive one from the other.
    assert torch.equal(src_pad.bool(), src == c["pad_id"])
    assert torch.equal(tgt_pad.bool(), tgt_in == c["pad_id"])
    assert torch.equal(tgt_pad.bool(), tgt_out == c["pad_id"])
    S, T, d = src.shape[1], tgt_in.shape[1], c["d_model"]
    pe = t["input.pe"].to(DT)
    # The stored table must be the documented formula (to float32 rounding).
    close("input.pe (formula)", pe, sinusoidal(pe.shape[0], d))
    assert torch.equal(t["input.tgt_mask"].to(DT), torch.triu(torch.full((T, T), float("-inf"), dtype=DT), 1))

    inter = {}
    logits = seq2seq_logits(p, src, tgt_in, c, pe, src_pad, tgt_pad, inter)
    for k, v in inter.items():
        close(f"output.{k}", v, t[f"output.{k}"])
    V = c["tgt_vocab_size"]
    loss = cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), c["ignore_index"], c["label_smoothing"])
    loss.backward()
    close("output.logits", logits, t["output.logits"])
    close("output.loss", loss.reshape(1), t["output.loss"])
    p.check_grads(t)
    for group in tied:
        for name in group[1:]:
            assert torch.equal(t[f"grad.{name}"], t[f"grad.{group[0]}"]), name
            assert torch.equal(t[f"param.{name}"], t[f"param.{group[0]}"]), name


def check_cross_entropy(t, c):
    tg = t["input.targets"]
    assert int((tg == c["ignore_index"]).sum()) == c["num_ignored"] > 0
    for suffix, ls in c["label_smoothing"].items():
        x = t["input.logits"].to(DT).requires_grad_(True)
        loss = cross_entropy(x, tg, c["ignore_index"], ls)
        loss.backward()
        close(f"output.loss_{suffix}", loss.reshape(1), t[f"output.loss_{suffix}"])
        close(f"grad.input.logits_{suffix}", x.grad, t[f"grad.input.logits_{suffix}"])


def check_adam(t, c):
    b1, b2 = c["adam"]["betas"]
    for tag in ("adam", "adam_l2", "adamw", "adam_clip"):
        oc = c[tag]
        lr, eps, wd = oc["lr"], oc["eps"], oc["weight_decay"]
        decoupled = oc["optimizer"].endswith("AdamW")
        ps = {n: t[f"input.{n}0"].to(DT) for n in ("p", "q")}
        m = {n: torch.zeros_like(v) for n, v in ps.items()}
        v2 = {n: torch.zeros_like(v) for n, v in ps.items()}
        for k in range(1, c["steps"] + 1):
            g = {n: t[f"input.grad.{n}.step{k}"].to(DT) for n in ps}
            if "clip_grad_norm" in oc:
                mx = oc["clip_grad_norm"]["max_norm"]
                norm = torch.sqrt(sum((x**2).sum() for x in g.values()))
                close(f"output.clip_norm.step{k}", norm.reshape(1), t[f"output.clip_norm.step{k}"])
                coef = min(1.0, mx / (norm.item() + 1e-6))
                g = {n: x * coef for n, x in g.items()}
            for n in ps:
                gn = g[n]
                if decoupled:
                    ps[n] = ps[n] * (1 - lr * wd)
                elif wd:
                    gn = gn + wd * ps[n]
                m[n] = b1 * m[n] + (1 - b1) * gn
                v2[n] = b2 * v2[n] + (1 - b2) * gn * gn
                denom = v2[n].sqrt() / math.sqrt(1 - b2**k) + eps
                ps[n] = ps[n] - lr / (1 - b1**k) * m[n] / denom
                close(f"output.{tag}.{n}.step{k}", ps[n], t[f"output.{tag}.{n}.step{k}"])


def check_layernorm_gelu(t, c):
    x = t["input.x"].to(DT).requires_grad_(True)
    w = t["input.ln_w"].to(DT).requires_grad_(True)
    b = t["input.ln_b"].to(DT).requires_grad_(True)
    y = layer_norm(x, w, b, c["layer_norm"]["eps"])
    loss = proj_loss(t, y)
    loss.backward()
    close("output.ln", y, t["output.ln"])
    close("output.loss_ln", loss.reshape(1), t["output.loss_ln"])
    close("grad.input.x_ln", x.grad, t["grad.input.x_ln"])
    close("grad.param.ln_w", w.grad, t["grad.param.ln_w"])
    close("grad.param.ln_b", b.grad, t["grad.param.ln_b"])
    for suffix, fn in (("gelu", gelu), ("gelu_tanh", gelu_tanh)):
        x = t["input.x"].to(DT).requires_grad_(True)
        y = fn(x)
        loss = proj_loss(t, y)
        loss.backward()
        close(f"output.{suffix}", y, t[f"output.{suffix}"])
        close(f"output.loss_{suffix}", loss.reshape(1), t[f"output.loss_{suffix}"])
        close(f"grad.input.x_{suffix}", x.grad, t[f"grad.input.x_{suffix}"])


def check_muon(t, c):
    """Muon written on the stored [in, out] matrices (the Go layout), where
    the reference worked on PyTorch's [out, in]: same weights every step."""
    lr, mom, wd, ns = c["lr"], c["momentum"], c["weight_decay"], c["ns_steps"]
    a, b, cc = c["ns_coefficients"]
    for n in c["torch_layout_shapes"]:
        w = t[f"input.{n}0"].to(DT)
        m = torch.zeros_like(w)
        rows, cols = w.shape  # in, out
        for k in range(1, c["steps"] + 1):
            g = t[f"input.grad.{n}.step{k}"].to(DT)
            m = mom * m + (1 - mom) * g
            x = (1 - mom) * g + mom * m
            x = x / (x.norm() + 1e-7)
            for _ in range(ns):
                if rows <= cols:
                    A = x @ x.T
                    x = a * x + (b * A + cc * A @ A) @ x
                else:
                    A = x.T @ x
                    x = a * x + x @ (b * A + cc * A @ A)
            w = w * (1 - lr * wd) - lr * max(1, cols / rows) ** 0.5 * x
            close(f"output.{n}.step{k}", w, t[f"output.{n}.step{k}"])


def check_seq2seq_train(t, c):
    """Adam steps on the seq2seq model, written out: the losses before each
    step and every final parameter."""
    lr, (b1, b2), eps = c["lr"], c["betas"], c["eps"]
    src, tgt_in, tgt_out = t["input.src"], t["input.tgt_in"], t["input.tgt_out"]
    n, d, V = max(src.shape[1], tgt_in.shape[1]), c["d_model"], c["tgt_vocab_size"]
    pe = sinusoidal(n, d).float().to(DT)  # the float32 table the model adds
    no_pad_s, no_pad_t = torch.zeros(src.shape, dtype=torch.bool), torch.zeros(tgt_in.shape, dtype=torch.bool)
    w = {k[6:]: v.to(DT) for k, v in t.items() if k.startswith("param.")}
    m = {k: torch.zeros_like(v) for k, v in w.items()}
    v2 = {k: torch.zeros_like(v) for k, v in w.items()}
    losses = []
    for k in range(1, c["steps"] + 1):
        p = {n: x.clone().requires_grad_(True) for n, x in w.items()}
        logits = seq2seq_logits(p, src, tgt_in, c, pe, no_pad_s, no_pad_t)
        loss = cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), c["pad_id"], c["label_smoothing"])
        loss.backward()
        losses.append(loss.detach())
        for n, x in p.items():
            g = x.grad
            m[n] = b1 * m[n] + (1 - b1) * g
            v2[n] = b2 * v2[n] + (1 - b2) * g * g
            w[n] = w[n] - lr / (1 - b1**k) * m[n] / (v2[n].sqrt() / math.sqrt(1 - b2**k) + eps)
    close("output.losses", torch.stack(losses), t["output.losses"])
    for n, x in w.items():
        close(f"final.{n}", x, t[f"final.{n}"])


CHECKS = {
    "mha_self": check_mha, "mha_causal": check_mha, "mha_cross": check_mha,
    "encoder_postln_relu": check_encoder, "encoder_preln_gelu": check_encoder,
    "seq2seq_postln_relu": check_seq2seq, "seq2seq_preln_gelu": check_seq2seq,
    "seq2seq_shared_tied": check_seq2seq, "cross_entropy": check_cross_entropy,
    "adam": check_adam, "layernorm_gelu": check_layernorm_gelu, "muon": check_muon,
    "seq2seq_train": check_seq2seq_train,
}


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=DEFAULT_OUT)
    ap.add_argument("-v", action="store_true", help="print every comparison")
    args = ap.parse_args()
    VERBOSE = args.v
    torch.set_num_threads(1)
    failed = 0
    for name, fn in CHECKS.items():
        path = os.path.join(args.dir, f"{name}.safetensors")
        t, meta = read_safetensors(path)
        for key in ("case", "torch", "config"):
            assert key in meta, f"{path}: metadata lacks {key}"
        try:
            fn(t, json.loads(meta["config"]))
            print(f"{name:22s} ok")
        except AssertionError as e:
            failed += 1
            print(f"{name:22s} FAIL {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
