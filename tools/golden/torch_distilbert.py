#!/usr/bin/python3
"""Write tiny HuggingFace DistilBERT folders and reference outputs for
model/bert.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_distilbert.py
    /usr/bin/python3 tools/golden/torch_distilbert.py --check DIR   # check an exported folder

There is no transformers package here, so DistilBERT (Sanh et al. 2019) is
written out in plain torch with the semantics of HF's modeling_distilbert.py,
under its own names:

* embeddings: word_embeddings[ids] + position_embeddings[0..T-1] (no token
  types), LayerNorm with eps 1e-12 (fixed, not in the config);
* post-LN blocks (transformer.layer.N): attention.q_lin, k_lin, v_lin (q
  scaled by 1/sqrt(D) before q·k), out_lin, then sa_layer_norm(that + x);
  ffn.lin1, the config's activation ("gelu" exact or "relu"), ffn.lin2, then
  output_layer_norm(that + sa output);
* the masked-LM head (DistilBertForMaskedLM): vocab_transform, activation,
  vocab_layer_norm, vocab_projector (weight tied to the word embeddings, its
  own bias);
* the sequence classifier (DistilBertForSequenceClassification): on the first
  token's hidden state, pre_classifier, ReLU, dropout (seq_classif_dropout),
  classifier.

It writes, under testdata/hf/ (each file well under 100 KB):

* distilbert-tiny/: DistilBertForMaskedLM in F32 as save_pretrained writes it
  ("distilbert." before the base model, vocab_transform, vocab_layer_norm,
  vocab_projector.bias; the tied vocab_projector.weight left out).
  distilbert-tiny/reference.safetensors holds the inputs and every reference.
* distilbert-tiny-cls/: DistilBertForSequenceClassification with three
  labels (id2label), F32: distilbert.*, pre_classifier, classifier.
* distilbert-tiny-base/: a DistilBertModel (no prefix: embeddings.*,
  transformer.layer.*) in BF16 with activation "relu" and sinusoidal
  position embeddings (sinusoidal_pos_embds: the stored table is the
  sinusoid).

References (float64 passes, results rounded to float32), two sequences of
T = 11, the second padded with id 0 after 7 tokens: input.ids,
input.attention_mask; mlm.hidden, mlm.logits, mlm.embed_mean, mlm.embed_cls;
cls.logits and the gradients cls.grad.<name> of a cross-entropy on them
(labels 2 and 0); base.hidden.
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import act, embeddings, folder, linear, read_model, write_model  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_safetensors  # noqa: E402

SEED = 911
OUT = os.path.join("testdata", "hf")
EPS = 1e-12

CONFIG = {
    "activation": "gelu",
    "architectures": ["DistilBertForMaskedLM"],
    "attention_dropout": 0.1,
    "dim": 32,
    "dropout": 0.1,
    "hidden_dim": 37,
    "initializer_range": 0.02,
    "max_position_embeddings": 24,
    "model_type": "distilbert",
    "n_heads": 4,
    "n_layers": 2,
    "pad_token_id": 0,
    "qa_dropout": 0.1,
    "seq_classif_dropout": 0.2,
    "sinusoidal_pos_embds": False,
    "tie_weights_": True,
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
    "vocab_size": 100,
}
B, T, LENGTHS = 2, 11, [11, 7]


def base_shapes(c):
    """DistilBertModel's state_dict names."""
    C, V, I = c["dim"], c["vocab_size"], c["hidden_dim"]
    s = {
        "embeddings.word_embeddings.weight": [V, C],
        "embeddings.position_embeddings.weight": [c["max_position_embeddings"], C],
        "embeddings.LayerNorm.weight": [C],
        "embeddings.LayerNorm.bias": [C],
    }
    for i in range(c["n_layers"]):
        p = f"transformer.layer.{i}."
        for lin, (o, n) in {"attention.q_lin": (C, C), "attention.k_lin": (C, C), "attention.v_lin": (C, C),
                            "attention.out_lin": (C, C), "ffn.lin1": (I, C), "ffn.lin2": (C, I)}.items():
            s[p + lin + ".weight"] = [o, n]
            s[p + lin + ".bias"] = [o]
        for ln in ("sa_layer_norm", "output_layer_norm"):
            s[p + ln + ".weight"] = [C]
            s[p + ln + ".bias"] = [C]
    return s


def draw(shapes, g):
    """Float32 draws large enough that every op matters (as torch_bert.py)."""
    p = {}
    for name, shape in shapes.items():
        r = torch.randn(shape, dtype=torch.float32, generator=g)
        if "embeddings" in name and len(shape) == 2:
            p[name] = 0.5 * r
        elif len(shape) == 2:
            p[name] = (1.2 / math.sqrt(shape[1])) * r
        elif "norm.weight" in name.lower():
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def sinusoid(n, dim):
    """HF's create_sinusoidal_embeddings: sin on even columns, cos on odd."""
    pos = torch.tensor([[p / (10000 ** (2 * (j // 2) / dim)) for j in range(dim)] for p in range(n)], dtype=torch.float64)
    out = torch.zeros(n, dim, dtype=torch.float64)
    out[:, 0::2] = torch.sin(pos[:, 0::2])
    out[:, 1::2] = torch.cos(pos[:, 1::2])
    return out.float()


def forward(p, ids, mask, c):
    """p: DistilBertModel names (no prefix) plus any heads. Returns (hidden
    [B,T,C], MLM logits or None, class logits or None)."""
    Bn, Tn = ids.shape
    C, H, a = c["dim"], c["n_heads"], c["activation"]
    D = C // H
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][:Tn]
    x = F.layer_norm(x, (C,), p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], EPS)
    masked = (mask == 0)[:, None, None, :]  # (B, 1, 1, T)

    def heads(t):
        return t.view(Bn, Tn, H, D).transpose(1, 2)

    for i in range(c["n_layers"]):
        l = f"transformer.layer.{i}."
        q = heads(linear(x, p, l + "attention.q_lin")) / math.sqrt(D)
        k = heads(linear(x, p, l + "attention.k_lin"))
        v = heads(linear(x, p, l + "attention.v_lin"))
        scores = (q @ k.transpose(2, 3)).masked_fill(masked, torch.finfo(x.dtype).min)
        ctx = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        sa = F.layer_norm(linear(ctx, p, l + "attention.out_lin") + x, (C,), p[l + "sa_layer_norm.weight"], p[l + "sa_layer_norm.bias"], EPS)
        ff = linear(act(a, linear(sa, p, l + "ffn.lin1")), p, l + "ffn.lin2")
        x = F.layer_norm(ff + sa, (C,), p[l + "output_layer_norm.weight"], p[l + "output_layer_norm.bias"], EPS)
    logits = None
    if "vocab_projector.bias" in p:
        t = act(a, linear(x, p, "vocab_transform"))
        t = F.layer_norm(t, (C,), p["vocab_layer_norm.weight"], p["vocab_layer_norm.bias"], EPS)
        logits = t @ p["embeddings.word_embeddings.weight"].t() + p["vocab_projector.bias"]
    cls = None
    if "classifier.weight" in p:
        cls = linear(F.relu(linear(x[:, 0], p, "pre_classifier")), p, "classifier")
    return x, logits, cls


def unprefixed(p):
    return {k[len("distilbert."):] if k.startswith("distilbert.") else k: v for k, v in p.items()}


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    c = CONFIG
    C, V = c["dim"], c["vocab_size"]
    base = draw(base_shapes(c), g)
    mlm = draw({"vocab_transform.weight": [C, C], "vocab_transform.bias": [C],
                "vocab_layer_norm.weight": [C], "vocab_layer_norm.bias": [C], "vocab_projector.bias": [V]}, g)
    clf = draw({"pre_classifier.weight": [C, C], "pre_classifier.bias": [C],
                "classifier.weight": [3, C], "classifier.bias": [3]}, g)

    ids = torch.randint(3, V, (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        ids[b, 0] = 2  # a [CLS]-like first token
        ids[b, n:] = c["pad_token_id"]
        mask[b, :n] = 1
    ref = {"input.ids": ids, "input.attention_mask": mask}

    # DistilBertForMaskedLM, F32, the tied projector weight left out.
    d = folder("distilbert-tiny", c)
    stored = {"distilbert." + k: v for k, v in base.items()}
    stored.update(mlm)
    write_model(os.path.join(d, "model.safetensors"), stored, torch.float32)
    p = unprefixed(read_model(os.path.join(d, "model.safetensors")))
    hidden, logits, _ = forward(p, ids, mask, c)
    mean, first = embeddings(hidden, mask)
    ref.update({"mlm.hidden": hidden, "mlm.logits": logits, "mlm.embed_mean": mean, "mlm.embed_cls": first})

    # DistilBertForSequenceClassification, F32, with gradients.
    ccls = dict(c, architectures=["DistilBertForSequenceClassification"],
                id2label={"0": "negative", "1": "neutral", "2": "positive"},
                label2id={"negative": 0, "neutral": 1, "positive": 2})
    d = folder("distilbert-tiny-cls", ccls)
    stored = {"distilbert." + k: v for k, v in base.items()}
    stored.update(clf)
    write_model(os.path.join(d, "model.safetensors"), stored, torch.float32)
    p = {k: v.requires_grad_(True) for k, v in read_model(os.path.join(d, "model.safetensors")).items()}
    _, _, cls = forward(unprefixed(p), ids, mask, ccls)
    labels = torch.tensor([2, 0])
    F.cross_entropy(cls, labels).backward()
    ref.update({"cls.labels": labels, "cls.logits": cls.detach()})
    for name in ("classifier.weight", "pre_classifier.weight", "distilbert.transformer.layer.1.ffn.lin2.weight",
                 "distilbert.transformer.layer.0.attention.q_lin.weight", "distilbert.embeddings.word_embeddings.weight"):
        ref["cls.grad." + name] = p[name].grad

    # DistilBertModel, BF16, relu, sinusoidal positions, no prefix.
    cb = dict(c, architectures=["DistilBertModel"], activation="relu", sinusoidal_pos_embds=True, torch_dtype="bfloat16")
    d = folder("distilbert-tiny-base", cb)
    stored = dict(base)
    stored["embeddings.position_embeddings.weight"] = sinusoid(c["max_position_embeddings"], C)
    write_model(os.path.join(d, "model.safetensors"), stored, torch.bfloat16)
    p = read_model(os.path.join(d, "model.safetensors"))
    hidden, _, _ = forward(p, ids, mask, cb)
    ref["base.hidden"] = hidden

    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": "tiny DistilBERT (HF semantics): hidden states, MLM logits, classifier logits and gradients",
        "torch": torch.__version__,
        "config": json.dumps({"batch": B, "seq_len": T, "lengths": LENGTHS}, sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_distilbert.py",
    }
    path = os.path.join(OUT, "distilbert-tiny", "reference.safetensors")
    write_safetensors(path, tensors, meta)
    back, bmeta = read_safetensors(path)
    if set(back) != set(tensors) or bmeta != meta:
        raise SystemExit(f"{path}: names or metadata differ after reading back")
    for name in ("distilbert-tiny", "distilbert-tiny-cls", "distilbert-tiny-base"):
        for fn in sorted(os.listdir(os.path.join(OUT, name))):
            print(f"{os.path.join(OUT, name, fn):60s} {os.path.getsize(os.path.join(OUT, name, fn)):7d} bytes")
    for tag in ("mlm", "cls", "base"):
        print(tag, " ".join(f"{k.split('.', 1)[1]} max|x| {ref[k].abs().max().item():.3f}" for k in ref if k.startswith(tag + ".")))


def check_folder(d):
    """Load a DistilBERT folder that attn's bert.Save wrote from
    distilbert-tiny or distilbert-tiny-cls and compare its outputs with the
    references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "distilbert":
        raise SystemExit(f"{d}: model_type is {cfg.get('model_type')!r}")
    p = unprefixed(read_model(os.path.join(d, "model.safetensors")))
    g, _ = read_safetensors(os.path.join(OUT, "distilbert-tiny", "reference.safetensors"))
    with torch.no_grad():
        hidden, logits, cls = forward(p, g["input.ids"], g["input.attention_mask"], cfg)
    outs = []
    if logits is not None:
        outs += [("hidden", "mlm.hidden", hidden), ("logits", "mlm.logits", logits)]
    if cls is not None:
        outs.append(("classifier logits", "cls.logits", cls))
    if not outs:
        raise SystemExit(f"{d}: neither a masked-LM head nor a classifier")
    errs = {k: (v - g[r].double()).abs().max().item() for k, r, v in outs}
    print(f"{d}: max abs error " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2])
    else:
        main()
