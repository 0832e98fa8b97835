#!/usr/bin/python3
"""Write tiny HuggingFace ModernBERT folders and reference outputs.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_modernbert.py
    /usr/bin/python3 tools/golden/torch_modernbert.py --check DIR   # check an exported folder

There is no transformers package here, so ModernBERT (Warner et al. 2024) is
written out in plain torch with the semantics of HF's modeling_modernbert.py
(transformers 4.48 to 5.x), under its own names:

* embeddings: tok_embeddings[ids] (an nn.Embedding with padding_idx =
  pad_token_id: the lookup sends no gradient to that row), then
  embeddings.norm; no position embeddings.
* pre-LN layers (model.layers.N): attn_norm (nn.Identity in layer 0, so no
  tensor; a LayerNorm elsewhere), attn.Wqkv [3C, C] viewed as
  [B, T, 3, heads, D] (rows [0,C) the queries, then keys, values, each head D
  consecutive rows), rotary embeddings on q and k after the split (rotate_half,
  cos/sin of position * inv_freq repeated over both halves, inv_freq =
  theta^(-2i/D)), scores * D^-0.5, bidirectional, attn.Wo, residual; then
  mlp_norm, mlp.Wi [2I, C] split into (input, gate) halves,
  act(input) * gate, mlp.Wo, residual. model.final_norm after the last layer.
  LayerNorms (eps norm_eps) have a bias only with norm_bias; Wqkv and attn.Wo
  only with attention_bias; Wi and mlp.Wo only with mlp_bias.
* layer kinds: layer_types when the config has it, else layer i is
  "sliding_attention" when i % global_attn_every_n_layers != 0 (default 3).
  A full layer uses the rope theta of rope_parameters["full_attention"] (or
  global_rope_theta, default 160000), a sliding one that of
  rope_parameters["sliding_attention"] (or local_rope_theta, default 10000).
  A sliding layer's query i sees key j only when |i - j| <= local_attention
  // 2; padded keys (attention_mask 0) are seen by no query.
* HF's current modular_modernbert.py takes the mask (sdpa, eager, flex) and
  the rope theta from layer_types, but the flash-attention window from
  layer_idx % global_attn_every_n_layers (and transformers 5.0's
  modeling_modernbert.py took the window from that modulus for every
  backend). The two agree only when layer_types is the modulus pattern, so
  both folders use such patterns and forward warns when a config's differ.
* padded queries are computed like any other row. One whose sliding window
  holds no real key (here positions 9 and 10 of the second sequence with
  local_attention 4; position 10 with local_attention 6) gets a zero
  attention output before attn.Wo, as HF's default sdpa path does on torch
  >= 2.5 (boolean mask, SDPA's safe softmax). HF's eager path and 4.48's sdpa
  path (additive finfo.min masks) would instead average every value
  uniformly, and flash attention zeroes every padded position. Real positions,
  the pooled outputs and every gradient are the same either way.
* ModernBertForMaskedLM: head.dense (bias iff classifier_bias),
  classifier_activation, head.norm, then decoder (weight tied to
  model.embeddings.tok_embeddings.weight when tie_word_embeddings, bias iff
  decoder_bias) on every position (sparse_prediction false).
* ModernBertForSequenceClassification: hidden[:, 0] (classifier_pooling
  "cls") or the mean over real tokens ("mean"), then the same head, dropout,
  classifier (always with a bias).

It writes, under testdata/hf/:

* modernbert-tiny/: ModernBertForMaskedLM in F32 as save_pretrained writes it
  ("model." before the base model, head.*, decoder.bias; the tied
  decoder.weight left out), a transformers 4.48-style config.json
  (global_attn_every_n_layers 3, global_rope_theta, local_rope_theta, no bias
  but decoder's), and tokenizer.json (WordLevel over the 48 ids, Lowercase,
  Whitespace, [CLS] $A [SEP]).
  modernbert-tiny/reference.safetensors: input.ids, input.attention_mask
  (both I64; 1 = real token), mlm.hidden [B,T,C] (final_norm's output),
  mlm.logits [B,T,V], mlm.embed_mean [B,C] (mean over real tokens, then L2
  normalised), mlm.embed_cls [B,C] (hidden[:, 0]), mlm.labels [B,T] I64
  (-100 on padding), mlm.loss [1] (mean cross-entropy over the labelled
  positions) and mlm.grad.<name> for every stored parameter (the tied
  embedding's includes the decoder's share).
* modernbert-tiny-cls/: ModernBertForSequenceClassification (three labels) in
  BF16 with a transformers 5-style config (layer_types, rope_parameters), every
  bias on, classifier_pooling "cls", local_attention 6.
  modernbert-tiny-cls/reference.safetensors: the same inputs, cls.hidden,
  cls.logits [B,3], cls.labels [2, 0], cls.loss [1], cls.grad.<name> for every
  parameter, all computed from the BF16-rounded weights.

Two sequences of T = 11: "Paris is a very big [MASK] in France." (11 ids) and
"I love this movie." (7 ids, then pad id 3). Every pass runs in float64 from
the stored (rounded) weights; only the results are rounded to float32.
"""

import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import act, embeddings, folder, read_model, write_model  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_checked  # noqa: E402

SEED = 1303
OUT = os.path.join("testdata", "hf")

# ids 0..47: five specials, then lowercase words ("." among them, so the
# Whitespace pre-tokenizer's punctuation split lands on an entry).
VOCAB = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]",
         "paris", "is", "the", "capital", "of", "france", "a", "city", ".", "very",
         "big", "in", "i", "love", "this", "movie", "it", "was", "not", "good",
         "bad", "great", "film", "and", "london", "england", "berlin", "germany", "rome", "italy",
         "river", "small", "old", "new", "food", "people", "country", "hate", "beautiful", "on",
         "with", "to", "my"]
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
TEXTS = ["Paris is a very big [MASK] in France.", "I love this movie."]
MASK_TARGET = "city"  # the MLM label at [MASK]

CONFIG = {  # transformers 4.48 style, as the hub's ModernBERT configs
    "architectures": ["ModernBertForMaskedLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "classifier_activation": "gelu",
    "classifier_bias": False,
    "classifier_dropout": 0.0,
    "classifier_pooling": "mean",
    "cls_token_id": 1,
    "decoder_bias": True,
    "deterministic_flash_attn": False,
    "embedding_dropout": 0.0,
    "eos_token_id": 2,
    "global_attn_every_n_layers": 3,
    "global_rope_theta": 160000.0,
    "hidden_activation": "gelu",
    "hidden_size": 32,
    "initializer_cutoff_factor": 2.0,
    "initializer_range": 0.02,
    "intermediate_size": 24,
    "local_attention": 4,
    "local_rope_theta": 10000.0,
    "max_position_embeddings": 64,
    "mlp_bias": False,
    "mlp_dropout": 0.0,
    "model_type": "modernbert",
    "norm_bias": False,
    "norm_eps": 1e-05,
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "pad_token_id": 3,
    "sep_token_id": 2,
    "sparse_pred_ignore_index": -100,
    "sparse_prediction": False,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.48.0",
    "vocab_size": 48,
}

CLS_CONFIG = dict(  # transformers 5 style: layer_types and rope_parameters
    {k: v for k, v in CONFIG.items() if k not in ("global_rope_theta", "local_rope_theta", "torch_dtype")},
    architectures=["ModernBertForSequenceClassification"],
    attention_bias=True, mlp_bias=True, norm_bias=True, classifier_bias=True,
    classifier_pooling="cls", local_attention=6,
    # Written with layer_types: HF's flash-attention window still follows
    # this modulus, so the two must agree (see the docstring).
    global_attn_every_n_layers=2,
    layer_types=["full_attention", "sliding_attention", "full_attention", "sliding_attention"],
    rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 160000.0},
                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
    id2label={"0": "negative", "1": "neutral", "2": "positive"},
    label2id={"negative": 0, "neutral": 1, "positive": 2},
    dtype="bfloat16", torch_dtype="bfloat16", transformers_version="5.0.0",
)
B, T, LENGTHS = 2, 11, [11, 7]
CLS_LABELS = [2, 0]


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------

def param_shapes(c, head):
    """The state_dict names save_pretrained writes for ModernBertForMaskedLM
    (head "mlm") or ModernBertForSequenceClassification (head "cls")."""
    C, V, I = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    s = {}

    def norm(name):
        s[name + ".weight"] = [C]
        if c["norm_bias"]:
            s[name + ".bias"] = [C]

    def linear(name, o, n, bias):
        s[name + ".weight"] = [o, n]
        if bias:
            s[name + ".bias"] = [o]

    s["model.embeddings.tok_embeddings.weight"] = [V, C]
    norm("model.embeddings.norm")
    for i in range(c["num_hidden_layers"]):
        l = f"model.layers.{i}."
        if i:
            norm(l + "attn_norm")
        linear(l + "attn.Wqkv", 3 * C, C, c["attention_bias"])
        linear(l + "attn.Wo", C, C, c["attention_bias"])
        norm(l + "mlp_norm")
        linear(l + "mlp.Wi", 2 * I, C, c["mlp_bias"])
        linear(l + "mlp.Wo", C, I, c["mlp_bias"])
    norm("model.final_norm")
    linear("head.dense", C, C, c["classifier_bias"])
    norm("head.norm")
    if head == "mlm":
        if not c["tie_word_embeddings"]:
            s["decoder.weight"] = [V, C]
        if c["decoder_bias"]:
            s["decoder.bias"] = [V]
    else:
        linear("classifier", len(c["id2label"]), C, True)
    return s


def draw(shapes, g):
    """Float32 draws large enough that every op matters: matrices
    N(0, (2/sqrt(fan_in))^2) (std 0.35 and 0.41 here), embeddings N(0, 0.5^2),
    LayerNorm weights 1 + 0.1*randn, biases 0.1*randn."""
    p = {}
    for name, shape in shapes.items():
        r = torch.randn(shape, dtype=torch.float32, generator=g)
        if "embeddings" in name and len(shape) == 2:
            p[name] = 0.5 * r
        elif len(shape) == 2:
            p[name] = (2.0 / math.sqrt(shape[1])) * r
        elif "norm" in name and name.endswith(".weight"):
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def layer_plan(c):
    """[(mask kind, rope theta)] per layer, as HF's sdpa/eager path decides
    them; warns when the flash-attention window (the modulus) would differ."""
    L = c["num_hidden_layers"]
    every = c.get("global_attn_every_n_layers", 3)
    modulus = ["sliding_attention" if i % every else "full_attention" for i in range(L)]
    kinds = c.get("layer_types") or modulus
    if kinds != modulus:
        print(f"warning: layer_types {kinds} differ from global_attn_every_n_layers {every}: "
              "HF's flash-attention windows would follow the latter", file=sys.stderr)
    rp = c.get("rope_parameters") or {}
    thetas = {}
    for kind, key, default in (("full_attention", "global_rope_theta", 160000.0),
                               ("sliding_attention", "local_rope_theta", 10000.0)):
        r = rp.get(kind) or {}
        if r.get("rope_type", "default") != "default":
            raise ValueError(f"rope_type {r['rope_type']!r} is not modelled")
        thetas[kind] = r.get("rope_theta", c.get(key, default))
    if thetas["sliding_attention"] is None:  # 4.48: no local theta means the global one
        thetas["sliding_attention"] = thetas["full_attention"]
    return [(k, thetas[k]) for k in kinds]


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(theta, D, Tn):
    """cos, sin [T, D] for positions 0..T-1: HF's default rotary frequencies,
    the D/2 angles repeated over both halves."""
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    ang = torch.arange(Tn, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    return emb.cos(), emb.sin()


def allowed_keys(c, mask, kind):
    """Boolean [B, 1, T, T]: True where query i may attend to key j."""
    Tn = mask.shape[1]
    ok = mask.bool()[:, None, None, :].expand(-1, 1, Tn, -1)
    if kind == "sliding_attention":
        pos = torch.arange(Tn)
        ok = ok & ((pos[:, None] - pos[None, :]).abs() <= c["local_attention"] // 2)
    return ok


def forward(p, ids, mask, c, plan=None):
    """p: HF names ("model." prefix) as float64 tensors. Returns (last hidden
    state [B,T,C], MLM logits [B,T,V] or None, class logits [B,labels] or
    None), by which heads p holds. plan overrides layer_plan(c)."""
    Bn, Tn = ids.shape
    C, H, eps = c["hidden_size"], c["num_attention_heads"], c["norm_eps"]
    D = C // H
    plan = plan or layer_plan(c)

    def ln(x, name):
        return F.layer_norm(x, (C,), p[name + ".weight"], p.get(name + ".bias"), eps)

    def lin(x, name):
        return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))

    x = F.embedding(ids, p["model.embeddings.tok_embeddings.weight"], padding_idx=c["pad_token_id"])
    x = ln(x, "model.embeddings.norm")
    for i, (kind, theta) in enumerate(plan):
        l = f"model.layers.{i}."
        h = x if i == 0 else ln(x, l + "attn_norm")
        qkv = lin(h, l + "attn.Wqkv").view(Bn, Tn, 3, H, D)
        q, k, v = (qkv[:, :, n].transpose(1, 2) for n in range(3))  # (B, H, T, D)
        cos, sin = rope(theta, D, Tn)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        ok = allowed_keys(c, mask, kind)
        scores = (q @ k.transpose(-1, -2)) * D ** -0.5
        # SDPA's safe softmax: a query with no key left gets zero weights.
        w = scores.masked_fill(~ok, torch.finfo(scores.dtype).min).softmax(dim=-1) * ok.any(dim=-1, keepdim=True)
        x = x + lin((w @ v).transpose(1, 2).reshape(Bn, Tn, C), l + "attn.Wo")
        inp, gate = lin(ln(x, l + "mlp_norm"), l + "mlp.Wi").chunk(2, dim=-1)
        x = x + lin(act(c["hidden_activation"], inp) * gate, l + "mlp.Wo")
    x = ln(x, "model.final_norm")

    def head(t):
        return ln(act(c["classifier_activation"], lin(t, "head.dense")), "head.norm")

    logits = cls = None
    if "classifier.weight" in p:
        if c["classifier_pooling"] == "cls":
            pooled = x[:, 0]
        else:
            m = mask.to(x.dtype).unsqueeze(-1)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1)
        cls = lin(head(pooled), "classifier")
    elif "head.dense.weight" in p:
        dec = p.get("decoder.weight", p["model.embeddings.tok_embeddings.weight"])
        logits = F.linear(head(x), dec, p.get("decoder.bias"))
    return x, logits, cls


# --------------------------------------------------------------------------
# WordLevel tokenizer.json files and padded inputs (CLIP's and SigLIP's
# twins use these too)
# --------------------------------------------------------------------------

def write_wordlevel(path, vocab, specials, unk, single, pair):
    """Write a HuggingFace tokenizers file: WordLevel over vocab (ids its
    positions, unk_token unk), Lowercase, Whitespace, the added special
    tokens specials, TemplateProcessing with the templates single and pair in
    HF's string form ("[CLS] $A [SEP]", a type id as in "$B:1" or "[SEP]:1",
    0 without one); no padding, no truncation."""
    ids = {t: i for i, t in enumerate(vocab)}

    def template(spec):
        out = []
        for item in spec.split():
            name, colon, type_id = item.rpartition(":")
            if not colon or not type_id.isdigit():
                name, type_id = item, "0"
            kind = "Sequence" if name in ("$A", "$B") else "SpecialToken"
            out.append({kind: {"id": name[1:] if kind == "Sequence" else name, "type_id": int(type_id)}})
        return out

    single, pair = template(single), template(pair)
    used = [x["SpecialToken"]["id"] for x in single + pair if "SpecialToken" in x]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in specials],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": single,
            "pair": pair,
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in dict.fromkeys(used)},
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": ids, "unk_token": unk},
    }
    with open(path, "w") as f:
        json.dump(tok, f, indent=2, ensure_ascii=False)
        f.write("\n")


def word_ids(text, vocab):
    """The ids such a file gives text without its specials: lowercased, split
    as HF's Whitespace pre-tokenizer splits (runs of word characters, runs of
    other non-space characters: \\w+|[^\\w\\s]+), unknown words 0 (the unk
    token's id in every twin's vocabulary)."""
    ids = {t: i for i, t in enumerate(vocab)}
    return [ids.get(w, 0) for w in re.findall(r"\w+|[^\w\s]+", text.lower())]


def pad_rows(rows, length, pad_id):
    """rows (id lists) right-padded with pad_id to length: input_ids and
    attention_mask [len(rows), length] I64, the mask 1 on each row's ids."""
    ids = torch.full((len(rows), length), pad_id, dtype=torch.int64)
    mask = torch.zeros(len(rows), length, dtype=torch.int64)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r)
        mask[b, :len(r)] = 1
    return ids, mask


def encode(text):
    """What modernbert-tiny's tokenizer.json gives for text ([MASK] kept
    whole), with [CLS] and [SEP]."""
    out = [VOCAB.index("[CLS]")]
    for piece in text.replace("[MASK]", " [MASK] ").split():
        out += [VOCAB.index(piece)] if piece == "[MASK]" else word_ids(piece, VOCAB)
    return out + [VOCAB.index("[SEP]")]


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------

def inputs():
    rows = [encode(text) for text in TEXTS]
    for text, e, n in zip(TEXTS, rows, LENGTHS):
        if len(e) != n:
            raise SystemExit(f"{text!r} encodes to {len(e)} ids, want {n}")
    return pad_rows(rows, T, CONFIG["pad_token_id"])


def write_reference(path, ref, case, seed):
    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": case,
        "torch": torch.__version__,
        "config": json.dumps({"batch": B, "seq_len": T, "lengths": LENGTHS, "texts": TEXTS}, sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(seed),
        "generator": "tools/golden/torch_modernbert.py",
    }
    write_checked(path, tensors, meta)


def training_pass(p, ids, mask, c, tag, ref):
    """Forward and backward from the stored weights p (float64); fills ref
    with <tag>.hidden, logits, loss, labels and grad.<name>."""
    p = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    hidden, logits, cls = forward(p, ids, mask, c)
    if tag == "mlm":
        labels = torch.where(mask.bool(), ids, torch.full_like(ids, -100))
        labels[ids == VOCAB.index("[MASK]")] = VOCAB.index(MASK_TARGET)
        loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), labels.reshape(-1), ignore_index=-100)
        out = logits
    else:
        labels = torch.tensor(CLS_LABELS)
        loss = F.cross_entropy(cls, labels)
        out = cls
    loss.backward()
    ref.update({f"{tag}.hidden": hidden.detach(), f"{tag}.logits": out.detach(), f"{tag}.labels": labels,
                f"{tag}.loss": loss.detach().reshape(1)})
    for name in sorted(p):
        ref[f"{tag}.grad.{name}"] = p[name].grad
    return hidden.detach()


def sanity(p, ids, mask, c):
    """Checks of the twin itself: the window's shape, and that a window wider
    than the text makes every sliding layer a full one."""
    ok = allowed_keys(dict(c, local_attention=4), torch.ones(1, T, dtype=torch.int64), "sliding_attention")[0, 0]
    if ok[5].nonzero().flatten().tolist() != [3, 4, 5, 6, 7]:
        raise SystemExit(f"sliding window: query 5 sees {ok[5].nonzero().flatten().tolist()}")
    with torch.no_grad():
        wide = forward(p, ids, mask, dict(c, local_attention=1000))
        full = forward(p, ids, mask, c, plan=[("full_attention", th) for _, th in layer_plan(c)])
        local = forward(p, ids, mask, c)
    if not torch.equal(wide[0], full[0]):
        raise SystemExit("local_attention 1000 differs from full attention")
    if (local[0] - full[0])[mask.bool()].abs().max() < 1e-3:
        raise SystemExit("the sliding window changes nothing at the real positions")


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    ids, mask = inputs()

    # ModernBertForMaskedLM, F32, tied decoder weight left out.
    c = CONFIG
    d = folder("modernbert-tiny", c)
    write_model(os.path.join(d, "model.safetensors"), draw(param_shapes(c, "mlm"), g), torch.float32)
    write_wordlevel(os.path.join(d, "tokenizer.json"), VOCAB, SPECIALS, "[UNK]",
                    "[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]")
    p = read_model(os.path.join(d, "model.safetensors"))
    sanity(p, ids, mask, c)
    ref = {"input.ids": ids, "input.attention_mask": mask}
    hidden = training_pass(p, ids, mask, c, "mlm", ref)
    ref["mlm.embed_mean"], ref["mlm.embed_cls"] = embeddings(hidden, mask)
    write_reference(os.path.join(d, "reference.safetensors"), ref,
                    "tiny ModernBertForMaskedLM (HF semantics): hidden states, MLM logits, embeddings, loss and gradients",
                    SEED)
    mlm_ref = ref

    # ModernBertForSequenceClassification, BF16, every bias, transformers 5 config.
    c = CLS_CONFIG
    d = folder("modernbert-tiny-cls", c)
    write_model(os.path.join(d, "model.safetensors"), draw(param_shapes(c, "cls"), g), torch.bfloat16)
    p = read_model(os.path.join(d, "model.safetensors"))
    sanity(p, ids, mask, c)
    ref = {"input.ids": ids, "input.attention_mask": mask}
    training_pass(p, ids, mask, c, "cls", ref)
    write_reference(os.path.join(d, "reference.safetensors"), ref,
                    "tiny ModernBertForSequenceClassification in BF16 (HF semantics): hidden states, logits, loss and gradients",
                    SEED)

    for name in ("modernbert-tiny", "modernbert-tiny-cls"):
        for fn in sorted(os.listdir(os.path.join(OUT, name))):
            print(f"{os.path.join(OUT, name, fn):60s} {os.path.getsize(os.path.join(OUT, name, fn)):7d} bytes")
    for tag, r in (("mlm", mlm_ref), ("cls", ref)):
        print(tag, " ".join(f"{k.split('.', 1)[1]} max|x| {r[k].abs().max().item():.3f}"
                            for k in r if k.startswith(tag + ".") and ".grad." not in k and "labels" not in k))
        grads = [k for k in r if k.startswith(tag + ".grad.")]
        small = min(r[k].abs().max().item() for k in grads)
        print(f"{tag} {len(grads)} gradients, smallest max|g| {small:.2e}")


def check_folder(d):
    """Load a ModernBERT folder (config.json, model.safetensors) that attn's
    Save wrote from modernbert-tiny or modernbert-tiny-cls and compare its
    outputs with that folder's references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "modernbert":
        raise SystemExit(f"{d}: model_type is {cfg.get('model_type')!r}")
    p = read_model(os.path.join(d, "model.safetensors"))
    if not any(k.startswith("model.") for k in p):  # a ModernBertModel file
        p = {"model." + k: v for k, v in p.items()}
    arch = (cfg.get("architectures") or [""])[0]
    if arch == "ModernBertForSequenceClassification" or (arch == "ModernBertModel" and cfg.get("norm_bias")):
        src, tag = "modernbert-tiny-cls", "cls"
    else:
        src, tag = "modernbert-tiny", "mlm"
    g, _ = read_safetensors(os.path.join(OUT, src, "reference.safetensors"))
    with torch.no_grad():
        hidden, logits, cls = forward(p, g["input.ids"], g["input.attention_mask"], cfg)
    outs = [("hidden", hidden)]
    if logits is not None:
        outs.append(("logits", logits))
    if cls is not None:
        outs.append(("logits", cls))
    errs = {k: (v - g[f"{tag}.{k}"].double()).abs().max().item() for k, v in outs}
    print(f"{d} (against {src}): max abs error " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2])
    else:
        main()
