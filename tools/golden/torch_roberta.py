#!/usr/bin/python3
"""Write tiny HuggingFace RoBERTa and XLM-RoBERTa folders and reference
outputs for model/bert.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_roberta.py
    /usr/bin/python3 tools/golden/torch_roberta.py --check DIR   # check an exported folder

There is no transformers package here, so RoBERTa is written out in plain
torch with the semantics of HF's modeling_roberta.py (XLM-RoBERTa's
modeling_xlm_roberta.py is the same model under another model_type). Where it
differs from BERT (torch_bert.py):

* position ids come from the token ids, not from the attention mask
  (create_position_ids_from_input_ids): a token that is not pad_token_id gets
  pad_token_id + its 1-based rank among such tokens, a pad token gets
  pad_token_id; so positions start at pad_token_id + 1 (2 in every released
  RoBERTa) and max_position_embeddings holds 2 more than the longest text;
* one token type (type_vocab_size 1), pad_token_id 1;
* the masked-LM head (RobertaLMHead, "lm_head."): dense, then the exact (erf)
  GELU whatever hidden_act says, then layer_norm, then the tied decoder
  (word embeddings) plus lm_head.bias;
* the sequence classifier (RobertaClassificationHead, "classifier."): on the
  first token's hidden state, dense, tanh, out_proj, with dropout before each
  dense in training; RobertaForSequenceClassification has no pooler.

It writes, under testdata/hf/ (each file well under 100 KB):

* roberta-tiny/: RobertaForMaskedLM in F32 as save_pretrained writes it:
  roberta.* without a pooler, lm_head.dense, lm_head.layer_norm, lm_head.bias
  (the tied lm_head.decoder.weight and .bias left out); hidden_act
  "gelu_new", so a head that followed hidden_act would be caught.
  roberta-tiny/reference.safetensors holds the inputs and every reference.
* roberta-tiny-cls/: RobertaForSequenceClassification with two labels
  (id2label), F32, hidden_act "gelu": roberta.* (no pooler), classifier.dense,
  classifier.out_proj.
* xlm-roberta-tiny/: model_type "xlm-roberta", saved as an XLMRobertaModel
  (sentence-transformers style: no prefix, the pooler kept) in F16.

References (float64 passes, results rounded to float32), for two sequences of
T = 11, <s> … </s>, the second padded with id 1 after 7 tokens:
input.ids, input.attention_mask; mlm.hidden, mlm.logits, mlm.embed_mean
(mean over real tokens, L2-normalised), mlm.embed_cls; cls.logits, and the
gradients cls.grad.<name> of a cross-entropy on them (labels 1 and 0) with
respect to five parameters; xlmr.hidden, xlmr.pooled.
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

SEED = 907
OUT = os.path.join("testdata", "hf")

CONFIG = {
    "architectures": ["RobertaForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0,
    "classifier_dropout": None,
    "eos_token_id": 2,
    "hidden_act": "gelu_new",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 24,
    "model_type": "roberta",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
    "type_vocab_size": 1,
    "use_cache": True,
    "vocab_size": 100,
}
B, T, LENGTHS = 2, 11, [11, 7]


def base_shapes(c):
    """RobertaModel's state_dict names, without the pooler."""
    C, V, I, L = c["hidden_size"], c["vocab_size"], c["intermediate_size"], c["num_hidden_layers"]
    s = {
        "embeddings.word_embeddings.weight": [V, C],
        "embeddings.position_embeddings.weight": [c["max_position_embeddings"], C],
        "embeddings.token_type_embeddings.weight": [c["type_vocab_size"], C],
        "embeddings.LayerNorm.weight": [C],
        "embeddings.LayerNorm.bias": [C],
    }
    for i in range(L):
        p = f"encoder.layer.{i}."
        for lin, (o, n) in {
            "attention.self.query": (C, C), "attention.self.key": (C, C), "attention.self.value": (C, C),
            "attention.output.dense": (C, C), "intermediate.dense": (I, C), "output.dense": (C, I),
        }.items():
            s[p + lin + ".weight"] = [o, n]
            s[p + lin + ".bias"] = [o]
            if lin in ("attention.output.dense", "output.dense"):
                ln = p + lin.replace("dense", "LayerNorm")
                s[ln + ".weight"] = [C]
                s[ln + ".bias"] = [C]
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
        elif "LayerNorm.weight" in name or "layer_norm.weight" in name:
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def positions(ids, pad):
    """HF's create_position_ids_from_input_ids (past length 0)."""
    mask = ids.ne(pad).long()
    return torch.cumsum(mask, dim=1) * mask + pad


def forward(p, ids, mask, c):
    """p: RobertaModel names (no prefix) plus any heads. Returns (hidden
    [B,T,C], pooled or None, MLM logits or None, class logits or None)."""
    Bn, Tn = ids.shape
    C, H, eps, a = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"], c["hidden_act"]
    D = C // H
    e = "embeddings."
    pos = positions(ids, c["pad_token_id"])
    x = p[e + "word_embeddings.weight"][ids] + p[e + "position_embeddings.weight"][pos] + p[e + "token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = F.layer_norm(x, (C,), p[e + "LayerNorm.weight"], p[e + "LayerNorm.bias"], eps)
    ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min

    def heads(t):
        return t.view(Bn, Tn, H, D).permute(0, 2, 1, 3)

    for i in range(c["num_hidden_layers"]):
        l = f"encoder.layer.{i}."
        q, k, v = (heads(linear(x, p, l + "attention.self." + n)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D) + ext
        ctx = (scores.softmax(dim=-1) @ v).permute(0, 2, 1, 3).reshape(Bn, Tn, C)
        ao = F.layer_norm(linear(ctx, p, l + "attention.output.dense") + x, (C,),
                          p[l + "attention.output.LayerNorm.weight"], p[l + "attention.output.LayerNorm.bias"], eps)
        h = act(a, linear(ao, p, l + "intermediate.dense"))
        x = F.layer_norm(linear(h, p, l + "output.dense") + ao, (C,),
                         p[l + "output.LayerNorm.weight"], p[l + "output.LayerNorm.bias"], eps)
    pooled = torch.tanh(linear(x[:, 0], p, "pooler.dense")) if "pooler.dense.weight" in p else None
    logits = None
    if "lm_head.bias" in p:
        t = F.gelu(linear(x, p, "lm_head.dense"))  # exact GELU, whatever hidden_act
        t = F.layer_norm(t, (C,), p["lm_head.layer_norm.weight"], p["lm_head.layer_norm.bias"], eps)
        logits = t @ p[e + "word_embeddings.weight"].t() + p["lm_head.bias"]
    cls = None
    if "classifier.out_proj.weight" in p:
        cls = linear(torch.tanh(linear(x[:, 0], p, "classifier.dense")), p, "classifier.out_proj")
    return x, pooled, logits, cls


def unprefixed(p):
    return {k[len("roberta."):] if k.startswith("roberta.") else k: v for k, v in p.items()}


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    c = CONFIG
    C, V = c["hidden_size"], c["vocab_size"]
    base = draw(base_shapes(c), g)
    lm = draw({"lm_head.dense.weight": [C, C], "lm_head.dense.bias": [C],
               "lm_head.layer_norm.weight": [C], "lm_head.layer_norm.bias": [C], "lm_head.bias": [V]}, g)
    clf = draw({"classifier.dense.weight": [C, C], "classifier.dense.bias": [C],
                "classifier.out_proj.weight": [2, C], "classifier.out_proj.bias": [2]}, g)
    pooler = draw({"pooler.dense.weight": [C, C], "pooler.dense.bias": [C]}, g)

    ids = torch.randint(3, V, (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        ids[b, 0], ids[b, n - 1] = 0, 2  # <s> … </s>
        ids[b, n:] = c["pad_token_id"]
        mask[b, :n] = 1
    ref = {"input.ids": ids, "input.attention_mask": mask}

    # RobertaForMaskedLM, F32, the tied decoder left out.
    d = folder("roberta-tiny", c)
    stored = {"roberta." + k: v for k, v in base.items()}
    stored.update(lm)
    write_model(os.path.join(d, "model.safetensors"), stored, torch.float32)
    p = unprefixed(read_model(os.path.join(d, "model.safetensors")))
    hidden, pooled, logits, _ = forward(p, ids, mask, c)
    if pooled is not None or logits is None:
        raise SystemExit("roberta-tiny: want an MLM head and no pooler")
    mean, first = embeddings(hidden, mask)
    ref.update({"mlm.hidden": hidden, "mlm.logits": logits, "mlm.embed_mean": mean, "mlm.embed_cls": first})

    # RobertaForSequenceClassification, F32, with gradients.
    ccls = dict(c, architectures=["RobertaForSequenceClassification"], hidden_act="gelu",
                id2label={"0": "NEGATIVE", "1": "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    d = folder("roberta-tiny-cls", ccls)
    stored = {"roberta." + k: v for k, v in base.items()}
    stored.update(clf)
    write_model(os.path.join(d, "model.safetensors"), stored, torch.float32)
    p = {k: v.requires_grad_(True) for k, v in read_model(os.path.join(d, "model.safetensors")).items()}
    q = unprefixed(p)
    _, _, _, cls = forward(q, ids, mask, ccls)
    labels = torch.tensor([1, 0])
    F.cross_entropy(cls, labels).backward()
    ref.update({"cls.labels": labels, "cls.logits": cls.detach()})
    for name in ("classifier.out_proj.weight", "classifier.dense.weight", "roberta.encoder.layer.1.output.dense.weight",
                 "roberta.embeddings.position_embeddings.weight", "roberta.embeddings.word_embeddings.weight"):
        ref["cls.grad." + name] = p[name].grad

    # XLMRobertaModel, F16, no prefix, with the pooler.
    cx = dict(c, architectures=["XLMRobertaModel"], model_type="xlm-roberta", hidden_act="gelu", torch_dtype="float16")
    d = folder("xlm-roberta-tiny", cx)
    stored = dict(base, **pooler)
    write_model(os.path.join(d, "model.safetensors"), stored, torch.float16)
    p = read_model(os.path.join(d, "model.safetensors"))
    hidden, pooled, _, _ = forward(p, ids, mask, cx)
    ref.update({"xlmr.hidden": hidden, "xlmr.pooled": pooled})

    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": "tiny RoBERTa / XLM-RoBERTa (HF semantics): hidden states, MLM logits, classifier logits and gradients, pooled output",
        "torch": torch.__version__,
        "config": json.dumps({"batch": B, "seq_len": T, "lengths": LENGTHS}, sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_roberta.py",
    }
    path = os.path.join(OUT, "roberta-tiny", "reference.safetensors")
    write_safetensors(path, tensors, meta)
    back, bmeta = read_safetensors(path)
    if set(back) != set(tensors) or bmeta != meta:
        raise SystemExit(f"{path}: names or metadata differ after reading back")
    for name in ("roberta-tiny", "roberta-tiny-cls", "xlm-roberta-tiny"):
        for fn in sorted(os.listdir(os.path.join(OUT, name))):
            print(f"{os.path.join(OUT, name, fn):60s} {os.path.getsize(os.path.join(OUT, name, fn)):7d} bytes")
    for tag in ("mlm", "cls", "xlmr"):
        print(tag, " ".join(f"{k.split('.', 1)[1]} max|x| {ref[k].abs().max().item():.3f}" for k in ref if k.startswith(tag + ".")))


def check_folder(d):
    """Load a RoBERTa folder that attn's bert.Save wrote from roberta-tiny or
    roberta-tiny-cls and compare its outputs with the references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") not in ("roberta", "xlm-roberta"):
        raise SystemExit(f"{d}: model_type is {cfg.get('model_type')!r}")
    p = unprefixed(read_model(os.path.join(d, "model.safetensors")))
    g, _ = read_safetensors(os.path.join(OUT, "roberta-tiny", "reference.safetensors"))
    with torch.no_grad():
        hidden, _, logits, cls = forward(p, g["input.ids"], g["input.attention_mask"], cfg)
    outs = []
    if logits is not None:
        outs += [("hidden", "mlm.hidden", hidden), ("logits", "mlm.logits", logits)]
    if cls is not None:
        outs.append(("classifier logits", "cls.logits", cls))
    if not outs:
        raise SystemExit(f"{d}: neither lm_head nor classifier")
    errs = {k: (v - g[r].double()).abs().max().item() for k, r, v in outs}
    print(f"{d}: max abs error " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2])
    else:
        main()
