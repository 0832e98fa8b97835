#!/usr/bin/python3
"""Write PyTorch golden files for the Go GPT-2 (model/gpt) tests.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_gpt.py               # both files
    /usr/bin/python3 tools/golden/torch_gpt.py --f32-drift   # also show torch-f32 vs reference

It writes

* testdata/torch/gpt_forward.safetensors: one forward and backward pass of a
  tiny GPT-2 on ids [2,16] with targets (three of them -1, ignored):
  param.<name> (initial weights), input.ids, input.targets, output.logits
  [2,16,V], output.loss [1] (mean cross entropy), grad.<name> for every
  parameter.
* testdata/torch/gpt_train.safetensors: the same initial weights (param.*),
  then 20 steps of AdamW (lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay
  0.1 on tensors of 2 or more dimensions and 0 on the rest, as nanoGPT's
  configure_optimizers) with clip_grad_norm_(1.0) before each step, dropout 0;
  step k trains on input.x[k], input.y[k] ([20,2,16] each). output.losses
  [20] is the loss of each step (before its update), output.grad_norms [20]
  the gradient norm before clipping, final.<name> the weights after step 20.

GPT-2 is written out in plain torch (there is no transformers package here),
with HuggingFace GPT2LMHeadModel's semantics and names (without the
"transformer." prefix): Conv1D weights stored [in, out] with y = x @ W + b;
pre-LN blocks; q, k, v split from c_attn's output in that order, heads the
n_head consecutive chunks of C; scores scaled by 1/sqrt(C/n_head) with a
causal mask; GELU's tanh approximation ("gelu_new"); final ln_f; logits =
ln_f(x) @ wte.T (lm_head tied to wte, no bias).

Init is nanoGPT's (weights and embeddings N(0, 0.02^2), c_proj weights
N(0, (0.02/sqrt(2*n_layer))^2)), except that biases are 0.1*randn and
LayerNorm weights 1 + 0.1*randn, LayerNorm biases 0.1*randn, so their
gradients are not tested against trivial values.

Precision: as torch_transformer.py, every draw is made in float32 (so the
stored F32 weights are exactly the ones used) and the passes, the optimizer
included, run in float64; only results are rounded to float32.
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_transformer import DEFAULT_OUT, to_storage, write_checked  # noqa: E402

COMPUTE_DTYPE = torch.float64
SEED = 201

CONFIG = {
    "vocab_size": 65,
    "n_positions": 32,
    "n_embd": 42,
    "n_layer": 2,
    "n_head": 3,
    "layer_norm_epsilon": 1e-5,
    "dropout": 0.0,
}
B, T = 2, 16
TRAIN = {"steps": 20, "lr": 1e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1, "clip_norm": 1.0}


def param_shapes(c):
    """HF GPT2 names and shapes, in the order attn's Model.Params lists them."""
    C, V, L = c["n_embd"], c["vocab_size"], c["n_layer"]
    shapes = {"wte.weight": [V, C], "wpe.weight": [c["n_positions"], C]}
    for i in range(L):
        h = f"h.{i}."
        shapes.update({
            h + "ln_1.weight": [C], h + "ln_1.bias": [C],
            h + "attn.c_attn.weight": [C, 3 * C], h + "attn.c_attn.bias": [3 * C],
            h + "attn.c_proj.weight": [C, C], h + "attn.c_proj.bias": [C],
            h + "ln_2.weight": [C], h + "ln_2.bias": [C],
            h + "mlp.c_fc.weight": [C, 4 * C], h + "mlp.c_fc.bias": [4 * C],
            h + "mlp.c_proj.weight": [4 * C, C], h + "mlp.c_proj.bias": [C],
        })
    shapes.update({"ln_f.weight": [C], "ln_f.bias": [C]})
    return shapes


def init_params(c):
    """Float32 draws: nanoGPT's init, with non-trivial biases and LayerNorms."""
    proj_std = 0.02 / math.sqrt(2 * c["n_layer"])
    params = {}
    for name, shape in param_shapes(c).items():
        r = torch.randn(shape, dtype=torch.float32)
        if name.endswith("c_proj.weight"):
            params[name] = proj_std * r
        elif len(shape) == 2:
            params[name] = 0.02 * r
        elif "ln_" in name and name.endswith(".weight"):
            params[name] = 1 + 0.1 * r
        else:  # biases
            params[name] = 0.1 * r
    return params


def gelu_new(x):
    # HF's NewGELUActivation, GPT-2's activation.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, p, name):
    # HF's Conv1D: x @ W + b with W [in, out].
    return torch.addmm(p[name + ".bias"], x.reshape(-1, x.size(-1)), p[name + ".weight"]).view(*x.shape[:-1], -1)


def forward(p, ids, c):
    """Logits [B, T, V] of GPT2LMHeadModel (dropout 0)."""
    Bn, Tn = ids.shape
    C, H, eps = c["n_embd"], c["n_head"], c["layer_norm_epsilon"]
    D = C // H
    x = p["wte.weight"][ids] + p["wpe.weight"][:Tn]  # (B, T, C)
    causal = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    for i in range(c["n_layer"]):
        h = f"h.{i}."
        a = F.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
        q, k, v = conv1d(a, p, h + "attn.c_attn").split(C, dim=2)
        q = q.view(Bn, Tn, H, D).transpose(1, 2)  # (B, H, T, D)
        k = k.view(Bn, Tn, H, D).transpose(1, 2)
        v = v.view(Bn, Tn, H, D).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(D)  # (B, H, T, T)
        if c.get("scale_attn_by_inverse_layer_idx"):  # Stanford's Mistral GPT-2s
            att = att / float(i + 1)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + conv1d(y, p, h + "attn.c_proj")
        m = F.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
        x = x + conv1d(gelu_new(conv1d(m, p, h + "mlp.c_fc")), p, h + "mlp.c_proj")
    x = F.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], eps)
    return x @ p["wte.weight"].t()


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)


def leaves(params32, dtype):
    return {k: v.to(dtype).clone().requires_grad_(True) for k, v in params32.items()}


def case_forward(dtype):
    torch.manual_seed(SEED)
    c = CONFIG
    params32 = init_params(c)
    ids = torch.randint(0, c["vocab_size"], (B, T))
    targets = torch.randint(0, c["vocab_size"], (B, T))
    targets[0, 3] = targets[1, 0] = targets[1, T - 1] = -1
    p = leaves(params32, dtype)
    logits = forward(p, ids, c)
    loss = loss_fn(logits, targets)
    loss.backward()
    out = {"input.ids": ids, "input.targets": targets, "output.logits": logits, "output.loss": loss.reshape(1)}
    for k in params32:
        out["param." + k] = params32[k]
        out["grad." + k] = p[k].grad
    cfg = dict(c, batch=B, seq_len=T, ignore_index=-1)
    return out, "tiny GPT-2 (HF semantics), one forward/backward with mean cross entropy", cfg


def training_text(n, vocab):
    """A learnable stream: a random period-13 pattern with 10% of tokens noise."""
    pattern = torch.randint(0, vocab, (13,))
    text = pattern.repeat(n // 13 + 1)[:n].clone()
    noise = torch.rand(n) < 0.1
    text[noise] = torch.randint(0, vocab, (int(noise.sum()),))
    return text


def case_train(dtype):
    torch.manual_seed(SEED)  # same initial weights as gpt_forward
    c, tr = CONFIG, TRAIN
    params32 = init_params(c)
    torch.manual_seed(SEED + 1)
    text = training_text(400, c["vocab_size"])
    xs, ys = [], []
    for _ in range(tr["steps"]):
        offs = torch.randint(0, len(text) - T - 1, (B,))
        xs.append(torch.stack([text[o:o + T] for o in offs]))
        ys.append(torch.stack([text[o + 1:o + T + 1] for o in offs]))
    xs, ys = torch.stack(xs), torch.stack(ys)  # (steps, B, T)

    p = leaves(params32, dtype)
    decay = [v for v in p.values() if v.dim() >= 2]
    no_decay = [v for v in p.values() if v.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": tr["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=tr["lr"], betas=tuple(tr["betas"]), eps=tr["eps"])
    losses, norms = [], []
    for k in range(tr["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(p, xs[k], c), ys[k])
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(list(p.values()), tr["clip_norm"]))
        opt.step()
        losses.append(loss.detach())
    out = {"input.x": xs, "input.y": ys, "output.losses": torch.stack(losses), "output.grad_norms": torch.stack(norms)}
    for k in params32:
        out["param." + k] = params32[k]
        out["final." + k] = p[k].detach()
    cfg = dict(c, batch=B, seq_len=T, optimizer="AdamW", decay="tensors with dim >= 2", **tr)
    return out, "tiny GPT-2, 20 AdamW steps with gradient clipping, one batch per step", cfg


CASES = {"gpt_forward": case_forward, "gpt_train": case_train}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--f32-drift", action="store_true", help="also run in float32 and print the worst differences")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name, fn in CASES.items():
        raw, desc, cfg = fn(COMPUTE_DTYPE)
        tensors = {k: to_storage(v) for k, v in raw.items()}
        meta = {
            "case": desc,
            "torch": torch.__version__,
            "config": json.dumps(cfg, sort_keys=True),
            "compute_dtype": str(COMPUTE_DTYPE).replace("torch.", ""),
            "seed": str(SEED),
            "generator": "tools/golden/torch_gpt.py",
        }
        path = os.path.join(args.out, f"{name}.safetensors")
        write_checked(path, tensors, meta)
        for k, v in tensors.items():
            if v.is_floating_point() and not torch.isfinite(v).all():
                raise SystemExit(f"{path}: {k} has non-finite values")
        print(f"{name:12s} {os.path.getsize(path):8d} bytes  {len(tensors):3d} tensors  ok")
        if name == "gpt_train":
            print("  losses", " ".join(f"{v:.4f}" for v in tensors["output.losses"].tolist()))
        if args.f32_drift:
            got, _, _ = fn(torch.float32)
            rows = []
            for k, a in tensors.items():
                if not a.is_floating_point() or k.startswith(("param.", "input.")):
                    continue
                a, g = a.double(), to_storage(got[k]).double()
                err = (a - g).abs().max().item()
                scale = a.abs().max().item()
                rows.append((err / scale if scale else err, err, k))
            for rel, err, k in sorted(rows, reverse=True)[:4]:
                print(f"    f32 drift {k:36s} abs {err:.2e} rel-to-max {rel:.2e}")


if __name__ == "__main__":
    main()
