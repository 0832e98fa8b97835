#!/usr/bin/python3
"""Write tiny HuggingFace BERT folders and reference outputs for model/bert.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_bert.py
    /usr/bin/python3 tools/golden/torch_bert.py --check DIR   # check an exported folder

There is no transformers package here, so BERT is written out in plain torch
with the semantics of HF's modeling_bert.py (BertModel, BertForPreTraining's
cls.predictions head):

* embeddings: word_embeddings[ids] + position_embeddings[0..T-1] +
  token_type_embeddings[type_ids], then LayerNorm (eps = layer_norm_eps).
* attention mask: HF's extended mask, (1 - attention_mask) * finfo.min added
  to every query row's scores; padded keys get no weight, padded queries are
  computed like any other position.
* post-LN layers: self-attention (query/key/value, heads the H consecutive
  D-wide chunks of C, scores / sqrt(D)), attention.output.dense, then
  LayerNorm(that + x); intermediate.dense and hidden_act; output.dense, then
  LayerNorm(that + attention output).
* pooler: tanh(pooler.dense(hidden[:, 0])).
* MLM head: cls.predictions.transform.dense, hidden_act, transform.LayerNorm,
  then logits = t @ word_embeddings.T + cls.predictions.bias (the decoder's
  weight is tied to the word embeddings, its bias is cls.predictions.bias).

It writes, under testdata/hf/ (each model file well under 100 KB):

* bert-tiny/: config.json (BertConfig's fields, model_type "bert", hidden_act
  "gelu") and model.safetensors in F32 with BertForPreTraining's names as
  save_pretrained writes them: bert.* (pooler included), cls.predictions.*,
  the tied cls.predictions.decoder.{weight,bias} left out.
  bert-tiny/reference.safetensors holds the inputs and every reference output.
* bert-tiny-sharded/: the same weights in two shards plus
  model.safetensors.index.json; this copy keeps the tied
  cls.predictions.decoder.weight and .bias (as a torch state_dict has them).
* bert-tiny-f16/: weights rounded to F16, hidden_act "relu", with the tied
  decoder tensors and BertForPreTraining's NSP head (cls.seq_relationship.*),
  which the loader ignores.
* bert-tiny-bf16/: weights rounded to BF16, hidden_act "gelu_new", saved as a
  BertModel (sentence-transformers style): no "bert." prefix, no cls head.
* bert-tiny-cls/: a BertForSequenceClassification (sentiment-style, three
  labels named in id2label): bert.* with the pooler, then classifier.weight
  [3, C] and classifier.bias, F32; its logits are classifier(pooled), and
  cls.* in the reference file hold them and the gradients of a
  cross-entropy on them (labels 2 and 0) with respect to five parameters.
* bert-tiny-truncated/, bert-tiny-wrong-shape/, bert-tiny-missing/: corrupted
  copies (a model.safetensors cut short; bert.encoder.layer.1.intermediate.
  dense.weight stored as [36, 32]; bert.encoder.layer.1.output.LayerNorm.bias
  left out).

Reference outputs (reference.safetensors in bert-tiny/), for a batch of two
sequences of T = 11 with token types, the second padded after 7 tokens:
input.ids, input.token_type_ids, input.attention_mask (HF's: 1 = real token),
and per variant (f32, f16, bf16): <v>.hidden [B,T,C] (last hidden state,
padded positions included), <v>.pooled [B,C], <v>.logits [B,T,V] (not bf16,
which has no head), <v>.embed_mean [B,C] (mean over real tokens, then L2
normalised, as sentence-transformers' mean pooling with normalize) and
<v>.embed_cls [B,C] (hidden[:, 0], not normalised). The references of the F16
and BF16 copies are computed from the rounded weights. Every pass runs in
float64; only the results are rounded to float32.
"""

import json
import math
import os
import shutil
import struct
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_transformer import read_safetensors, to_storage, write_checked  # noqa: E402

SEED = 701
OUT = os.path.join("testdata", "hf")

CONFIG = {
    "architectures": ["BertForPreTraining"],
    "attention_probs_dropout_prob": 0.1,
    "classifier_dropout": None,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 24,
    "model_type": "bert",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 100,
}
B, T, LENGTHS = 2, 11, [11, 7]


def param_shapes(c):
    """BertForPreTraining's state_dict names (without the tied decoder)."""
    C, V, I, L = c["hidden_size"], c["vocab_size"], c["intermediate_size"], c["num_hidden_layers"]
    s = {
        "bert.embeddings.word_embeddings.weight": [V, C],
        "bert.embeddings.position_embeddings.weight": [c["max_position_embeddings"], C],
        "bert.embeddings.token_type_embeddings.weight": [c["type_vocab_size"], C],
        "bert.embeddings.LayerNorm.weight": [C],
        "bert.embeddings.LayerNorm.bias": [C],
    }
    for i in range(L):
        p = f"bert.encoder.layer.{i}."
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
    s.update({
        "bert.pooler.dense.weight": [C, C], "bert.pooler.dense.bias": [C],
        "cls.predictions.bias": [V],
        "cls.predictions.transform.dense.weight": [C, C], "cls.predictions.transform.dense.bias": [C],
        "cls.predictions.transform.LayerNorm.weight": [C], "cls.predictions.transform.LayerNorm.bias": [C],
    })
    return s


def init_params(c):
    """Float32 draws large enough that every op matters: weight matrices
    N(0, (1.2/sqrt(in))^2), embeddings N(0, 0.5^2), biases 0.1*randn,
    LayerNorm weights 1 + 0.1*randn."""
    p = {}
    for name, shape in param_shapes(c).items():
        r = torch.randn(shape, dtype=torch.float32)
        if "embeddings" in name and len(shape) == 2:
            p[name] = 0.5 * r
        elif len(shape) == 2:
            p[name] = (1.2 / math.sqrt(shape[1])) * r
        elif "LayerNorm.weight" in name:
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def act(name, x):
    """HF's ACT2FN for the names the twins' configs use (BERT, RoBERTa, ViT,
    ModernBERT, CLIP, SigLIP)."""
    if name == "gelu":  # GELUActivation: exact, erf
        return F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):  # NewGELUActivation's tanh form
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "quick_gelu":  # QuickGELUActivation
        return x * torch.sigmoid(1.702 * x)
    if name == "relu":
        return F.relu(x)
    if name in ("silu", "swish"):
        return F.silu(x)
    raise ValueError(name)


def linear(x, p, name):
    return F.linear(x, p[name + ".weight"], p[name + ".bias"])


def forward(p, ids, types, mask, c):
    """(last hidden state [B,T,C], pooled [B,C], MLM logits [B,T,V] or None
    without the head)."""
    Bn, Tn = ids.shape
    C, H, eps, a = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"], c["hidden_act"]
    D = C // H
    e = "bert.embeddings."
    x = p[e + "word_embeddings.weight"][ids] + p[e + "position_embeddings.weight"][:Tn] + p[e + "token_type_embeddings.weight"][types]
    x = F.layer_norm(x, (C,), p[e + "LayerNorm.weight"], p[e + "LayerNorm.bias"], eps)
    ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min  # (B, 1, 1, T)

    def heads(t):
        return t.view(Bn, Tn, H, D).permute(0, 2, 1, 3)  # (B, H, T, D)

    for i in range(c["num_hidden_layers"]):
        l = f"bert.encoder.layer.{i}."
        q, k, v = (heads(linear(x, p, l + "attention.self." + n)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D) + ext  # (B, H, T, T)
        ctx = (scores.softmax(dim=-1) @ v).permute(0, 2, 1, 3).reshape(Bn, Tn, C)
        ao = F.layer_norm(linear(ctx, p, l + "attention.output.dense") + x, (C,),
                          p[l + "attention.output.LayerNorm.weight"], p[l + "attention.output.LayerNorm.bias"], eps)
        h = act(a, linear(ao, p, l + "intermediate.dense"))
        x = F.layer_norm(linear(h, p, l + "output.dense") + ao, (C,),
                         p[l + "output.LayerNorm.weight"], p[l + "output.LayerNorm.bias"], eps)
    pooled = torch.tanh(linear(x[:, 0], p, "bert.pooler.dense"))
    if "cls.predictions.bias" not in p:  # no MLM head (a sequence classifier)
        return x, pooled, None
    t = act(a, linear(x, p, "cls.predictions.transform.dense"))
    t = F.layer_norm(t, (C,), p["cls.predictions.transform.LayerNorm.weight"], p["cls.predictions.transform.LayerNorm.bias"], eps)
    logits = t @ p[e + "word_embeddings.weight"].t() + p["cls.predictions.bias"]
    return x, pooled, logits


def embeddings(hidden, mask):
    m = mask.to(hidden.dtype).unsqueeze(-1)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(mean, p=2, dim=1, eps=1e-12), hidden[:, 0]


# --------------------------------------------------------------------------
# HF-style safetensors with F32, F16 and BF16 (torch_transformer.py's writer
# knows only F32, I64 and U8).
# --------------------------------------------------------------------------

def encode(t, dtype):
    """(tag, little-endian bytes) of a float tensor stored as dtype; a uint8
    tensor (MXFP4's blocks and scales) is stored as it is, U8."""
    if t.dtype == torch.uint8:
        return "U8", t.contiguous().numpy().tobytes()
    t = t.detach().to(dtype).contiguous()
    if dtype == torch.float32:
        return "F32", t.numpy().astype("<f4").tobytes()
    if dtype == torch.float16:
        return "F16", t.numpy().astype("<f2").tobytes()
    if dtype == torch.bfloat16:
        return "BF16", t.view(torch.int16).numpy().astype("<i2").tobytes()
    raise TypeError(dtype)


def write_model(path, params, dtype, shapes=None):
    """Write params as HF's save_pretrained does (metadata {"format": "pt"},
    tensors in sorted-name order); shapes overrides a stored shape."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(params):
        tag, raw = encode(params[name], dtype)
        shape = (shapes or {}).get(name, list(params[name].shape))
        header[name] = {"dtype": tag, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return off


def read_model(path):
    """Independent reader for write_model's files: {name: float64 tensor}.
    Integer tensors (I64/I32 buffers such as the position_ids older
    transformers saved) are left out."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body, out = data[8 + n:], {}
    for name, info in header.items():
        if info["dtype"] in ("I64", "I32"):
            continue
        b, e = info["data_offsets"]
        raw = bytearray(body[b:e])
        if info["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype={"F32": torch.float32, "F16": torch.float16}[info["dtype"]])
        out[name] = t.reshape(info["shape"]).double()
    return out


def folder(name, config):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    return d


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    c = CONFIG
    p32 = init_params(c)
    V = c["vocab_size"]
    ids = torch.randint(3, V, (B, T))
    ids[:, 0] = 2  # a [CLS]-like first token
    types = torch.zeros(B, T, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        types[b, n // 2:n] = 1
        mask[b, :n] = 1
        ids[b, n:] = c["pad_token_id"]
    ref = {"input.ids": ids, "input.token_type_ids": types, "input.attention_mask": mask}
    tied = {"cls.predictions.decoder.weight": p32["bert.embeddings.word_embeddings.weight"],
            "cls.predictions.decoder.bias": p32["cls.predictions.bias"]}
    nsp = {"cls.seq_relationship.weight": 0.1 * torch.randn(2, c["hidden_size"]),
           "cls.seq_relationship.bias": 0.1 * torch.randn(2)}

    def reference(tag, path, cfg, head=True):
        """Run the model stored at path (read back, so rounding is included)."""
        p = read_model(path) if not isinstance(path, dict) else path
        if not head:  # a BertModel file: put the prefix back, borrow a head
            p = {"bert." + k: v for k, v in p.items()}
            p.update({k: v.double() for k, v in p32.items() if k.startswith("cls.")})
        hidden, pooled, logits = forward(p, ids, types, mask, cfg)
        mean, first = embeddings(hidden, mask)
        ref.update({f"{tag}.hidden": hidden, f"{tag}.pooled": pooled, f"{tag}.embed_mean": mean, f"{tag}.embed_cls": first})
        if head:
            ref[f"{tag}.logits"] = logits

    # F32, single file, tied tensors left out.
    d = folder("bert-tiny", c)
    write_model(os.path.join(d, "model.safetensors"), p32, torch.float32)
    reference("f32", os.path.join(d, "model.safetensors"), c)

    # Sharded: two shards, tied tensors kept.
    d = folder("bert-tiny-sharded", c)
    full = dict(p32, **tied)
    names = sorted(full)
    first = [n for n in names if n.startswith("bert.embeddings.") or n.startswith("bert.encoder.layer.0.")]
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": [n for n in names if n not in first]}
    total, weight_map = 0, {}
    for fn, ns in shards.items():
        total += write_model(os.path.join(d, fn), {n: full[n] for n in ns}, torch.float32)
        weight_map.update({n: fn for n in ns})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    merged = {}
    for fn in shards:
        merged.update(read_model(os.path.join(d, fn)))
    if any(not torch.equal(merged[k], p32[k].double()) for k in p32):
        raise SystemExit("sharded copy differs from the weights")

    # F16 with relu, tied tensors and the NSP head.
    c16 = dict(c, hidden_act="relu", torch_dtype="float16")
    d = folder("bert-tiny-f16", c16)
    write_model(os.path.join(d, "model.safetensors"), dict(p32, **tied, **nsp), torch.float16)
    reference("f16", os.path.join(d, "model.safetensors"), c16)

    # BF16 with gelu_new, saved as a BertModel.
    cbf = dict(c, hidden_act="gelu_new", torch_dtype="bfloat16", architectures=["BertModel"])
    d = folder("bert-tiny-bf16", cbf)
    base = {k[len("bert."):]: v for k, v in p32.items() if k.startswith("bert.")}
    write_model(os.path.join(d, "model.safetensors"), base, torch.bfloat16)
    reference("bf16", os.path.join(d, "model.safetensors"), cbf, head=False)

    # Corrupted copies.
    d = folder("bert-tiny-truncated", c)
    path = os.path.join(d, "model.safetensors")
    size = write_model(path, p32, torch.float32)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - size // 3])
    d = folder("bert-tiny-wrong-shape", c16)
    bad = "bert.encoder.layer.1.intermediate.dense.weight"
    wrong = dict(p32)
    wrong[bad] = p32[bad][:36]
    write_model(os.path.join(d, "model.safetensors"), wrong, torch.float16)
    d = folder("bert-tiny-missing", c16)
    write_model(os.path.join(d, "model.safetensors"),
                {k: v for k, v in p32.items() if k != "bert.encoder.layer.1.output.LayerNorm.bias"}, torch.float16)

    # A sequence classifier: the F32 weights plus a classifier head, drawn
    # from a generator of its own so the folders above stay as they were.
    g = torch.Generator().manual_seed(SEED + 1)
    C = c["hidden_size"]
    head = {"classifier.weight": (1.2 / math.sqrt(C)) * torch.randn(3, C, generator=g),
            "classifier.bias": 0.1 * torch.randn(3, generator=g)}
    ccls = dict(c, architectures=["BertForSequenceClassification"],
                id2label={"0": "negative", "1": "neutral", "2": "positive"},
                label2id={"negative": 0, "neutral": 1, "positive": 2})
    d = folder("bert-tiny-cls", ccls)
    pcls = {k: v for k, v in p32.items() if k.startswith("bert.")}
    pcls.update(head)
    write_model(os.path.join(d, "model.safetensors"), pcls, torch.float32)
    p = {k: v.requires_grad_(True) for k, v in read_model(os.path.join(d, "model.safetensors")).items()}
    _, pooled, _ = forward(p, ids, types, mask, ccls)
    logits = linear(pooled, p, "classifier")
    labels = torch.tensor([2, 0])
    F.cross_entropy(logits, labels).backward()
    ref.update({"cls.labels": labels, "cls.logits": logits.detach()})
    for name in ("classifier.weight", "classifier.bias", "bert.pooler.dense.weight",
                 "bert.encoder.layer.1.output.dense.weight", "bert.embeddings.word_embeddings.weight"):
        ref["cls.grad." + name] = p[name].grad

    # References.
    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": "tiny BERT (HF BertForPreTraining semantics): hidden states, pooled output, MLM logits, embeddings",
        "torch": torch.__version__,
        "config": json.dumps({"batch": B, "seq_len": T, "lengths": LENGTHS}, sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_bert.py",
    }
    write_checked(os.path.join(OUT, "bert-tiny", "reference.safetensors"), tensors, meta)
    for root, _, files in sorted(os.walk(OUT)):
        for fn in sorted(files):
            if os.path.basename(root).startswith("bert-"):
                print(f"{os.path.join(root, fn):60s} {os.path.getsize(os.path.join(root, fn)):7d} bytes")
    for tag in ("f32", "f16", "bf16", "cls"):
        print(tag, " ".join(f"{k.split('.')[1]} max|x| {ref[k].abs().max().item():.3f}" for k in ref if k.startswith(tag + ".")))


def check_folder(d):
    """Load a BERT folder (config.json, model.safetensors, e.g. one that
    attn's bert.Save wrote from bert-tiny) and compare its outputs with the
    f32 references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "bert":
        raise SystemExit(f"{d}: model_type is not bert")
    p = read_model(os.path.join(d, "model.safetensors"))
    if not any(k.startswith("bert.") for k in p):  # a BertModel file
        p = {"bert." + k: v for k, v in p.items()}
    g, _ = read_safetensors(os.path.join(OUT, "bert-tiny", "reference.safetensors"))
    with torch.no_grad():
        hidden, pooled, logits = forward(p, g["input.ids"], g["input.token_type_ids"], g["input.attention_mask"], cfg)
    outs = [("hidden", "f32.hidden", hidden), ("pooled", "f32.pooled", pooled)]
    if logits is not None:
        outs.append(("logits", "f32.logits", logits))
    if "classifier.weight" in p:  # a BertForSequenceClassification from bert-tiny-cls
        with torch.no_grad():
            outs.append(("classifier logits", "cls.logits", linear(pooled, p, "classifier")))
    errs = {k: (v - g[ref].double()).abs().max().item() for k, ref, v in outs}
    print(f"{d}: max abs error " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2])
    else:
        main()
