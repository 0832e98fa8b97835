#!/usr/bin/python3
"""Write tiny HuggingFace SigLIP folders and reference outputs.

Run from the repository root with the Debian PyTorch and Pillow (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_siglip.py
    /usr/bin/python3 tools/golden/torch_siglip.py --check DIR REF   # check an exported folder

There is no transformers package here, so SigLIP (Zhai et al. 2023) is
written out in plain torch with the semantics of HF's modeling_siglip.py
(SiglipModel) and image_processing_siglip.py (SiglipImageProcessor, the PIL
one), under HF's names. What differs from CLIP (torch_clip.py):

* text tower (text_model.): embeddings.token_embedding[ids] +
  embeddings.position_embedding[0..T-1]; CLIP's pre-LN layers under CLIP's
  names (encoder.layers.N.layer_norm1, self_attn.{q,k,v,out}_proj,
  layer_norm2, mlp.fc1, mlp.fc2, every Linear with a bias), scores * D^-0.5.
  NOT causal. The attention_mask is applied only when one is passed (HF adds
  finfo(dtype).min to the scores of keys whose mask is 0, here -inf: the same
  softmax, no row is fully masked); SigLIP's hub tokenizers declare
  model_input_names ["input_ids"], so neither SiglipProcessor nor the
  zero-shot pipeline gives one, and the model then attends over the padding.
  (HF drops a mask under flash attention too.) final_layer_norm gives
  last_hidden_state; pooled = last_hidden_state[:, -1], the LAST position
  whatever it holds (with max_length padding, a pad); text_embeds =
  head(pooled), head = Linear(hidden_size, projection_size) WITH a bias
  (projection_size null means hidden_size).
* vision tower (vision_model.): embeddings.patch_embedding (Conv2d, kernel =
  stride = patch_size, WITH a bias) flattened patch by patch, row-major; no
  class token; embeddings.position_embedding [num_patches, C] added; no
  pre-norm; the layers, no mask; post_layernorm on every token gives
  last_hidden_state; the pooled output is head(last_hidden_state),
  SiglipMultiheadAttentionPoolingHead (vision_use_head, absent = true):
  head.probe [1, 1, C] is the one query of head.attention, an
  nn.MultiheadAttention(C, num_attention_heads, batch_first) (in_proj_weight
  [3C, C] stacking the query, key and value projections, in_proj_bias [3C],
  out_proj.weight/bias) over keys = values = last_hidden_state; then
  h + head.mlp(head.layernorm(h)) (fc1, the vision hidden_act, fc2) and the
  first (only) row. image_embeds = that pooled output, no projection: the text
  head's projection_size must equal the vision hidden_size.
* SiglipModel: logits_per_text = t @ i.T * exp(logit_scale) + logit_bias, t
  and i the embeddings divided by their L2 norms (no epsilon); logits_per_image
  its transpose; probabilities sigmoid(logits) (per pair, no softmax).
  logit_scale and logit_bias are Parameters of shape [1] (torch.randn(1)).
* activations: gelu_pytorch_tanh (tanh approximation), gelu (exact, erf).
* SiglipImageProcessor: convert("RGB") (do_convert_rgb; the pipeline's
  load_image converts too), PIL resize straight to size (height, width), no
  crop, resample 3 (bicubic) by default, x * rescale_factor in float64 then
  float32, (x - 0.5) / 0.5 in float32, channels first (torch_vit.py's
  preprocess does exactly this).

It writes, under testdata/hf/:

* siglip-tiny/: SiglipModel in F32, gelu_pytorch_tanh in both towers; text C
  32 (2 layers, 4 heads, intermediate 37, vocabulary 40, 12 positions,
  projection_size 24), vision C 24 (2 layers, 4 heads, intermediate 40, 32x32
  images in patches of 8: 16 tokens), vision_use_head absent (the default,
  true); preprocessor_config.json (32x32, bicubic, mean and std 0.5);
  tokenizer.json (WordLevel over the 40 ids, Lowercase, Whitespace,
  "$A </s>": only the end of sequence is added; <unk> 0, <pad> 1, </s> 2; no
  padding configured) and tokenizer_config.json (as SigLIP's hub folders:
  model_input_names ["input_ids"], model_max_length 12).
* siglip-tiny-bf16/: SiglipModel in BF16 (references from the rounded
  weights), exact gelu in the text tower (the vision tower and its head keep
  gelu_pytorch_tanh), vision_use_head written out as true; a processor that
  resizes with resample 2 (bilinear); the same tokenizer files.

reference.safetensors in each (float32; the models run in float64):
input.ids [3, 12] I64: the three texts, "</s>" appended, right-padded with
<pad> (1) to 12 = max_position_embeddings (the pipeline pads to max_length 64,
which is SigLIP's max_position_embeddings; a 12-position model cannot take
64), passed WITHOUT a mask as the pipeline passes them; text.hidden [3, 12,
32]; text.pooled [3, 32] (= text.hidden[:, 11], a pad in every row);
text.embeds [3, 24] (head, not normalised); image.pixels [3, 3, 32, 32]
(testdata/images/rgb.png, gray.png, rgba.png through the processor);
vision.hidden [3, 16, 24] (after post_layernorm); vision.pooled [3, 24] (the
head's output); image.embeds [3, 24] (the same values: SigLIP has no visual
projection); logits_per_image [3, 3] (images x texts); probs [3, 3]
(sigmoid(logits_per_image)). The masked path, which neither the pipeline nor
SiglipProcessor takes: input.attention_mask [3, 12] I64 (1 real, 0 pad),
text.masked_hidden [3, 12, 32], text.masked_embeds [3, 24],
logits_per_image_masked [3, 3].
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import act, folder, read_model, write_model  # noqa: E402
from torch_clip import IMAGE_NAMES, IMAGES, check_pixels, encoder, encoder_shapes, write_json  # noqa: E402
from torch_modernbert import pad_rows, word_ids, write_wordlevel  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_checked  # noqa: E402
from torch_vit import preprocess  # noqa: E402

SEED = 2303
OUT = os.path.join("testdata", "hf")

UNK, PAD, EOS = "<unk>", "<pad>", "</s>"
VOCAB = [UNK, PAD, EOS,
         "a", "photo", "of", "cat", "dog", "car", "red", "blue", "the", "on", "table", "in",
         "snow", "green", "picture", "an", "image", "bird", "tree", "house", "sky", "man",
         "woman", "with", "and", "is", "small", "big", "white", "black", "street", "two",
         "sitting", "park", "field", "this", "."]
SPECIALS = [UNK, PAD, EOS]
TEXTS = ["a photo of a cat", "a photo of a dog on the table", "a red car"]

TEXT_CONFIG = {
    "attention_dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-06,
    "max_position_embeddings": 12,
    "model_type": "siglip_text_model",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 1,
    "projection_size": 24,
    "vocab_size": 40,
}
VISION_CONFIG = {
    "attention_dropout": 0.0,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_size": 24,
    "image_size": 32,
    "intermediate_size": 40,
    "layer_norm_eps": 1e-06,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 4,
    "num_channels": 3,
    "num_hidden_layers": 2,
    "patch_size": 8,
}
CONFIG = {
    "architectures": ["SiglipModel"],
    "initializer_factor": 1.0,
    "model_type": "siglip",
    "text_config": TEXT_CONFIG,
    "torch_dtype": "float32",
    "transformers_version": "4.48.0",
    "vision_config": VISION_CONFIG,
}
BF16_CONFIG = dict(CONFIG, torch_dtype="bfloat16",
                   text_config=dict(TEXT_CONFIG, hidden_act="gelu"),
                   vision_config=dict(VISION_CONFIG, vision_use_head=True))

PROCESSOR = {
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "SiglipImageProcessor",
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "SiglipProcessor",
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 32, "width": 32},
}
BF16_PROCESSOR = dict(PROCESSOR, resample=2)

LOGIT_SCALE, LOGIT_BIAS = math.log(10.0), -10.0  # SigLIP's init (big_vision): t' = log 10, b = -10


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------

def text_cfg(c):
    """text_config with HF's defaults for what a folder may leave out."""
    t = dict(c["text_config"])
    if t.get("projection_size") is None:
        t["projection_size"] = t["hidden_size"]
    return t


def vision_cfg(c):
    v = dict(c["vision_config"])
    v.setdefault("vision_use_head", True)
    return v


def param_shapes(c):
    """SiglipModel's state_dict as save_pretrained writes it (position_ids
    are non-persistent buffers, not written)."""
    t, v = text_cfg(c), vision_cfg(c)
    Ct, Cv, P, Iv = t["hidden_size"], v["hidden_size"], v["patch_size"], v["intermediate_size"]
    s = {
        "text_model.embeddings.token_embedding.weight": [t["vocab_size"], Ct],
        "text_model.embeddings.position_embedding.weight": [t["max_position_embeddings"], Ct],
        "text_model.final_layer_norm.weight": [Ct], "text_model.final_layer_norm.bias": [Ct],
        "text_model.head.weight": [t["projection_size"], Ct], "text_model.head.bias": [t["projection_size"]],
        "vision_model.embeddings.patch_embedding.weight": [Cv, v["num_channels"], P, P],
        "vision_model.embeddings.patch_embedding.bias": [Cv],
        "vision_model.embeddings.position_embedding.weight": [(v["image_size"] // P) ** 2, Cv],
        "vision_model.post_layernorm.weight": [Cv], "vision_model.post_layernorm.bias": [Cv],
        "logit_scale": [1], "logit_bias": [1],
    }
    if v["vision_use_head"]:
        h = "vision_model.head."
        s.update({
            h + "probe": [1, 1, Cv],
            h + "attention.in_proj_weight": [3 * Cv, Cv], h + "attention.in_proj_bias": [3 * Cv],
            h + "attention.out_proj.weight": [Cv, Cv], h + "attention.out_proj.bias": [Cv],
            h + "layernorm.weight": [Cv], h + "layernorm.bias": [Cv],
            h + "mlp.fc1.weight": [Iv, Cv], h + "mlp.fc1.bias": [Iv],
            h + "mlp.fc2.weight": [Cv, Iv], h + "mlp.fc2.bias": [Cv],
        })
    for tower, tc in (("text_model", t), ("vision_model", v)):
        s.update(encoder_shapes(tower, tc))
    return s


def draw(shapes, g):
    """Float32 draws large enough that every op matters: matrices (the patch
    kernel and in_proj_weight too) N(0, (2/sqrt(fan_in))^2), embeddings and
    the probe N(0, 0.5^2), LayerNorm weights 1 + 0.1*randn, biases 0.1*randn;
    logit_scale log(10), logit_bias -10."""
    p = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name == "logit_scale":
            p[name] = torch.tensor([LOGIT_SCALE], dtype=torch.float32)
            continue
        if name == "logit_bias":
            p[name] = torch.tensor([LOGIT_BIAS], dtype=torch.float32)
            continue
        r = torch.randn(shape, dtype=torch.float32, generator=g)
        if name.endswith("probe") or ("embedding" in name and "patch_embedding" not in name):
            p[name] = 0.5 * r
        elif len(shape) >= 2:
            p[name] = (2.0 / math.sqrt(math.prod(shape[1:]))) * r
        elif "norm" in name and name.endswith(".weight"):
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def lin(p, t, name):
    return F.linear(t, p[name + ".weight"], p.get(name + ".bias"))


def ln(p, t, name, eps):
    return F.layer_norm(t, (t.shape[-1],), p[name + ".weight"], p[name + ".bias"], eps)


def text_forward(p, ids, c, mask=None, causal=False):
    """(last_hidden_state [B,T,C], pooled [B,C], text_embeds [B,P]); mask
    (1 = real) drops padded keys when given; causal is for a sanity check
    only (SigLIP's text is not causal)."""
    t = text_cfg(c)
    Bn, Tn = ids.shape
    e = "text_model.embeddings."
    x = p[e + "token_embedding.weight"][ids] + p[e + "position_embedding.weight"][:Tn]
    allowed = None
    if mask is not None:
        allowed = mask.bool()[:, None, None, :].expand(Bn, 1, Tn, Tn)
    if causal:
        tri = torch.ones(Tn, Tn, dtype=torch.bool).tril()[None, None]
        allowed = tri if allowed is None else allowed & tri
    x = encoder(p, "text_model", x, t, allowed)
    x = ln(p, x, "text_model.final_layer_norm", t["layer_norm_eps"])
    pooled = x[:, -1]
    return x, pooled, lin(p, pooled, "text_model.head")


def pooling_head(p, x, v):
    """SiglipMultiheadAttentionPoolingHead on last_hidden_state x [B,N,C]."""
    Bn, N, C = x.shape
    H = v["num_attention_heads"]
    D = C // H
    h = "vision_model.head."
    W, b = p[h + "attention.in_proj_weight"], p[h + "attention.in_proj_bias"]
    probe = p[h + "probe"].expand(Bn, 1, C)
    q = F.linear(probe, W[:C], b[:C]).view(Bn, 1, H, D).transpose(1, 2)
    k = F.linear(x, W[C:2 * C], b[C:2 * C]).view(Bn, N, H, D).transpose(1, 2)
    val = F.linear(x, W[2 * C:], b[2 * C:]).view(Bn, N, H, D).transpose(1, 2)
    ctx = ((q @ k.transpose(-1, -2)) * D ** -0.5).softmax(dim=-1) @ val  # (B, H, 1, D)
    y = lin(p, ctx.transpose(1, 2).reshape(Bn, 1, C), h + "attention.out_proj")
    y = y + lin(p, act(v["hidden_act"], lin(p, ln(p, y, h + "layernorm", v["layer_norm_eps"]), h + "mlp.fc1")), h + "mlp.fc2")
    return y[:, 0]


def vision_forward(p, pixels, c):
    """(last_hidden_state [B,N,C] after post_layernorm, pooled [B,C])."""
    v = vision_cfg(c)
    e = "vision_model.embeddings."
    x = F.conv2d(pixels, p[e + "patch_embedding.weight"], p[e + "patch_embedding.bias"],
                 stride=v["patch_size"]).flatten(2).transpose(1, 2)
    x = x + p[e + "position_embedding.weight"]
    x = encoder(p, "vision_model", x, v)
    x = ln(p, x, "vision_model.post_layernorm", v["layer_norm_eps"])
    return x, pooling_head(p, x, v)


def logits(p, te, ie):
    """logits_per_image [images, texts]."""
    def unit(x):
        return x / x.pow(2).sum(dim=-1, keepdim=True).pow(0.5)

    per_text = (unit(te) @ unit(ie).t()) * p["logit_scale"].exp() + p["logit_bias"]
    return per_text.t()


def siglip_forward(p, ids, mask, pixels, c):
    """Every reference output of SiglipModel, by reference name."""
    th, tp, te = text_forward(p, ids, c)  # no mask, as the pipeline calls it
    mh, _, me = text_forward(p, ids, c, mask=mask)
    vh, vp = vision_forward(p, pixels, c)
    lpi = logits(p, te, vp)
    return {"text.hidden": th, "text.pooled": tp, "text.embeds": te,
            "vision.hidden": vh, "vision.pooled": vp, "image.embeds": vp.clone(),
            "logits_per_image": lpi, "probs": torch.sigmoid(lpi),
            "text.masked_hidden": mh, "text.masked_embeds": me,
            "logits_per_image_masked": logits(p, me, vp)}


# --------------------------------------------------------------------------
# tokenizer files and the inputs (the numpy processor is torch_clip.py's)
# --------------------------------------------------------------------------

def tokenizer_config(max_len):
    """As SigLIP's hub folders have it: input_ids only (no attention_mask)."""
    return {
        "do_lower_case": True,
        "eos_token": EOS,
        "model_input_names": ["input_ids"],
        "model_max_length": max_len,
        "pad_token": PAD,
        "processor_class": "SiglipProcessor",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": UNK,
    }


def encode(text):
    """What tokenizer.json gives: lowercase, runs of word characters and runs
    of punctuation, unknown words 0, then </s>."""
    return word_ids(text, VOCAB) + [VOCAB.index(EOS)]


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------

def write_reference(path, ref, case, proc):
    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": case,
        "torch": torch.__version__,
        "pillow": Image.__version__,
        "config": json.dumps({"texts": TEXTS, "images": [f"testdata/images/{n}.png" for n in IMAGE_NAMES],
                              "padding": "max_length to max_position_embeddings with pad_token_id 1; "
                                         "text.* and logits_per_image without attention_mask (as the pipeline); "
                                         "*masked* with input.attention_mask",
                              "text_pooled_position": "last (T-1)", "resample": proc["resample"]},
                             sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_siglip.py",
    }
    write_checked(path, tensors, meta)


def sanity(p, ids, mask, pixels, c, proc, tag):
    """Checks of the twin itself."""
    t, v = text_cfg(c), vision_cfg(c)
    with torch.no_grad():
        base = text_forward(p, ids, c)
        causal = text_forward(p, ids, c, causal=True)
        masked = text_forward(p, ids, c, mask=mask)
        vh, vp = vision_forward(p, pixels, c)
        # the pooled state is the last position's, a pad in every row here
        if not torch.equal(base[1], base[0][:, ids.shape[1] - 1]) or (ids[:, -1] != 1).any():
            raise SystemExit(f"{tag}: pooled is not position {ids.shape[1] - 1} (a pad)")
        real = mask.bool()
        dc = (base[0] - causal[0])[real].abs().max().item()
        dcp = (base[1] - causal[1]).abs().max().item()
        if dc < 1e-2 or dcp < 1e-2:
            raise SystemExit(f"{tag}: a causal mask changes the text by only {dc:.2e} (pooled {dcp:.2e})")
        dm = (base[0] - masked[0])[real].abs().max().item()
        dmp = (base[1] - masked[1]).abs().max().item()
        if dm < 1e-2 or dmp < 1e-2:
            raise SystemExit(f"{tag}: the attention mask changes the text by only {dm:.2e} (pooled {dmp:.2e})")
        # the pooling head against torch's own nn.MultiheadAttention module
        C, H = v["hidden_size"], v["num_attention_heads"]
        h = "vision_model.head."
        mha = torch.nn.MultiheadAttention(C, H, batch_first=True).double()
        mha.load_state_dict({"in_proj_weight": p[h + "attention.in_proj_weight"],
                             "in_proj_bias": p[h + "attention.in_proj_bias"],
                             "out_proj.weight": p[h + "attention.out_proj.weight"],
                             "out_proj.bias": p[h + "attention.out_proj.bias"]})
        mha.eval()
        y = mha(p[h + "probe"].repeat(vh.shape[0], 1, 1), vh, vh)[0]
        y = y + lin(p, act(v["hidden_act"], lin(p, F.layer_norm(y, (C,), p[h + "layernorm.weight"], p[h + "layernorm.bias"],
                                                                 v["layer_norm_eps"]), h + "mlp.fc1")), h + "mlp.fc2")
        dh = (y[:, 0] - vp).abs().max().item()
        if dh > 1e-12:
            raise SystemExit(f"{tag}: the pooling head differs from nn.MultiheadAttention's by {dh:.2e}")
        # mean pooling instead of the head would give something else
        dmean = (vh.mean(1) - vp).abs().max().item()
    print(f"{tag}: pooled = hidden[:, {ids.shape[1] - 1}]; causal changes real positions by {dc:.3f} "
          f"(pooled {dcp:.3f}); the attention mask changes real positions by {dm:.3f} (pooled {dmp:.3f}); "
          f"pooling head vs nn.MultiheadAttention {dh:.1e} (vs mean pooling {dmean:.3f}); "
          f"text act {t['hidden_act']}, vision act {v['hidden_act']}")
    check_pixels(pixels, proc, tag)
    print(f"{tag}: the numpy re-implementation of the processor (Pillow's resample {proc['resample']} "
          f"in fixed point) gives the same bits")


def build(name, c, proc, dtype, g, case):
    d = folder(name, c)
    shapes = param_shapes(c)
    write_model(os.path.join(d, "model.safetensors"), draw(shapes, g), dtype)
    write_json(os.path.join(d, "preprocessor_config.json"), proc)
    # WordLevel, Lowercase, Whitespace, "$A </s>" (SigLIP's tokenizer appends only the end of sequence)
    write_wordlevel(os.path.join(d, "tokenizer.json"), VOCAB, SPECIALS, UNK, f"$A {EOS}", f"$A {EOS} $B:1 {EOS}:1")
    Tn = c["text_config"]["max_position_embeddings"]
    write_json(os.path.join(d, "tokenizer_config.json"), tokenizer_config(Tn))
    p = read_model(os.path.join(d, "model.safetensors"))
    if sorted(p) != sorted(shapes) or any(list(p[k].shape) != shapes[k] for k in p):
        raise SystemExit(f"{name}: stored names or shapes differ")
    ids, mask = pad_rows([encode(t) for t in TEXTS], Tn, VOCAB.index(PAD))  # padding="max_length" with <pad>
    pixels = torch.stack([preprocess(os.path.join(IMAGES, f"{m}.png"), proc)[0] for m in IMAGE_NAMES])
    sanity(p, ids, mask, pixels.double(), c, proc, name)
    with torch.no_grad():
        out = siglip_forward(p, ids, mask, pixels.double(), c)
    ref = {"input.ids": ids, "input.attention_mask": mask, "image.pixels": pixels}
    ref.update(out)
    write_reference(os.path.join(d, "reference.safetensors"), ref, case, proc)
    return ref, p


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    refs = {}
    refs["siglip-tiny"] = build("siglip-tiny", CONFIG, PROCESSOR, torch.float32, g,
                                "tiny SiglipModel in F32 (HF semantics: text pooled at the last position, "
                                "no mask; attention-pooled image; sigmoid logits with a bias)")
    refs["siglip-tiny-bf16"] = build("siglip-tiny-bf16", BF16_CONFIG, BF16_PROCESSOR, torch.bfloat16, g,
                                     "tiny SiglipModel in BF16 (exact gelu in the text tower, bilinear processor)")
    for name in refs:
        for fn in sorted(os.listdir(os.path.join(OUT, name))):
            print(f"{os.path.join(OUT, name, fn):52s} {os.path.getsize(os.path.join(OUT, name, fn)):7d} bytes")
    for name, (r, p) in refs.items():
        print(name, "ids", r["input.ids"].tolist())
        print(name, "logit_scale", p["logit_scale"].tolist(), "logit_bias", p["logit_bias"].tolist())
        print(name, " ".join(f"{k} {list(v.shape)}" for k, v in r.items()))
        print(name, "max|x|", " ".join(f"{k} {v.abs().max().item():.3f}" for k, v in r.items() if v.is_floating_point()))
        print(name, "logits_per_image", r["logits_per_image"].numpy().round(3).tolist())
        print(name, "probs", r["probs"].numpy().round(4).tolist())
        print(name, "logits_per_image_masked", r["logits_per_image_masked"].numpy().round(3).tolist())


def check_folder(d, src):
    """Load a SigLIP folder (config.json, model.safetensors) that attn's Save
    wrote from siglip-tiny or siglip-tiny-bf16 (src, a name or a path) and
    compare its outputs on src's reference inputs with src's references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "siglip":
        raise SystemExit(f"{d}: model_type is {cfg.get('model_type')!r}")
    p = read_model(os.path.join(d, "model.safetensors"))
    want = param_shapes(cfg)
    if sorted(p) != sorted(want) or any(list(p[k].shape) != want[k] for k in p):
        missing, extra = sorted(set(want) - set(p)), sorted(set(p) - set(want))
        raise SystemExit(f"{d}: tensors differ from SiglipModel's: missing {missing}, unexpected {extra}, "
                         f"shapes {[k for k in p if k in want and list(p[k].shape) != want[k]]}")
    rp = src if os.path.isdir(src) else os.path.join(OUT, src)
    g, _ = read_safetensors(os.path.join(rp, "reference.safetensors"))
    with torch.no_grad():
        out = siglip_forward(p, g["input.ids"], g["input.attention_mask"], g["image.pixels"].double(), cfg)
    names = ["text.hidden", "text.pooled", "text.embeds", "vision.hidden", "vision.pooled", "image.embeds",
             "logits_per_image", "probs", "text.masked_hidden", "text.masked_embeds", "logits_per_image_masked"]
    # relative to each tensor's largest value: probs are all small (logit_bias -10)
    errs = {k: (out[k] - g[k].double()).abs().max().item() / g[k].double().abs().max().item() for k in names}
    print(f"{d} (against {rp}): max abs error / max |want| " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-5:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        if len(sys.argv) != 4:
            raise SystemExit("usage: torch_siglip.py --check DIR REF (REF: siglip-tiny or siglip-tiny-bf16)")
        check_folder(sys.argv[2], sys.argv[3])
    else:
        main()
