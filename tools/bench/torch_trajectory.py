#!/usr/bin/env python3
"""PyTorch's side of tools/bench/trajectory.sh: trains the model `attn bench
train` times from the initial weights and on the batches that
tools/bench/trajectory wrote to DIR, and writes its losses to
DIR/torch-<matmul>.json, for comparison with attn's run on the same inputs.

    /usr/bin/python3 tools/bench/torch_trajectory.py DIR [--autocast]

The model is nn.TransformerEncoder/Decoder (post-LN, ReLU, final norms),
separate source and target embeddings scaled by sqrt(d) plus sinusoidal
positions (dropout after them, as attn applies it), and an untied output
Linear; the loss label-smoothed cross-entropy ignoring the pad id; the
optimizer torch.optim.Adam at a constant rate. With --autocast the products
run in bfloat16 (torch.autocast), PyTorch's mixed precision.
"""
import json, math, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "golden"))
from torch_transformer import read_safetensors, sinusoidal_pe  # noqa: E402


class Seq2Seq(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["d_model"], c["dropout"]
        self.d = d
        self.src_embed = nn.Embedding(c["vocab"], d)
        self.tgt_embed = nn.Embedding(c["vocab"], d)
        tr = nn.Transformer(d, c["heads"], c["layers"], c["layers"], c["d_ff"], dropout=p, batch_first=True)
        self.encoder, self.decoder = tr.encoder, tr.decoder
        self.encoder.enable_nested_tensor = False
        self.generator = nn.Linear(d, c["vocab"])
        self.drop = nn.Dropout(p)
        self.register_buffer("pe", sinusoidal_pe(c["max_len"] + 1, d))

    def forward(self, src, tgt_in, pad):
        S, T = src.shape[1], tgt_in.shape[1]
        src_pad, tgt_pad = src == pad, tgt_in == pad
        s = self.drop(self.src_embed(src) * math.sqrt(self.d) + self.pe[:S])
        t = self.drop(self.tgt_embed(tgt_in) * math.sqrt(self.d) + self.pe[:T])
        mem = self.encoder(s, src_key_padding_mask=src_pad)
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        out = self.decoder(t, mem, tgt_mask=causal, tgt_key_padding_mask=tgt_pad,
                           memory_key_padding_mask=src_pad)
        return self.generator(out)


def main():
    d = sys.argv[1]
    use_autocast = "--autocast" in sys.argv[2:]
    c = json.load(open(os.path.join(d, "config.json")))
    torch.manual_seed(c["seed"])
    init, _ = read_safetensors(os.path.join(d, "init.safetensors"))
    batches, _ = read_safetensors(os.path.join(d, "batches.safetensors"))
    m = Seq2Seq(c)
    m.load_state_dict(init, strict=False)  # pe is a buffer the file does not hold
    missing = set(m.state_dict()) - set(init) - {"pe"}
    if missing:
        sys.exit(f"torch_trajectory: the initial weights lack {sorted(missing)[:3]}")
    opt = torch.optim.Adam(m.parameters(), lr=c["lr"], betas=(0.9, 0.98), eps=1e-9)
    pad, V = c["pad"], c["vocab"]

    def ctx():
        if use_autocast:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def loss_of(prefix, smoothing):
        logits = m(batches[prefix + ".src"], batches[prefix + ".tgt_in"], pad)
        return F.cross_entropy(logits.reshape(-1, V).float(), batches[prefix + ".tgt_out"].reshape(-1),
                               ignore_index=pad, label_smoothing=smoothing)

    nval = len({k.rsplit(".", 1)[0] for k in batches if k.startswith("val.")})

    def val_loss():
        m.eval()
        total, n = 0.0, 0
        # Not under no_grad: there nn.TransformerEncoderLayer takes its
        # fused inference path, which autocast's bfloat16 breaks in 1.13.
        with ctx():
            for i in range(nval):
                p = f"val.{i:05d}"
                tokens = int((batches[p + ".tgt_out"] != pad).sum())
                total += float(loss_of(p, 0.0)) * tokens
                n += tokens
        m.train()
        return total / n

    side = "torch " + ("autocast-bf16" if use_autocast else "fp32")
    res = {"side": side, "losses": [], "val_loss": {}, "seconds": 0.0}
    for k in range(c["steps"] + 1):
        if k % c["every"] == 0 or k == c["steps"]:
            v = val_loss()
            res["val_loss"][str(k)] = v
            print(f"{side}: step {k}, validation loss {v:.4f}", flush=True)
        if k == c["steps"]:
            break
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with ctx():
            loss = loss_of(f"train.{k:05d}", c["label_smoothing"])
        loss.backward()
        opt.step()
        res["losses"].append(loss.item())
        res["seconds"] += time.perf_counter() - t0
    name = "torch-" + ("autocast-bf16" if use_autocast else "fp32") + ".json"
    with open(os.path.join(d, name), "w") as f:
        json.dump(res, f)
        f.write("\n")


if __name__ == "__main__":
    main()
