#!/usr/bin/python3
"""Write tiny HuggingFace CLIP folders and reference outputs.

Run from the repository root with the Debian PyTorch and Pillow (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_clip.py
    /usr/bin/python3 tools/golden/torch_clip.py --check DIR REF   # check an exported folder

There is no transformers package here, so CLIP (Radford et al. 2021) is
written out in plain torch with the semantics of HF's modeling_clip.py
(CLIPModel) and image_processing_clip.py (CLIPImageProcessor), under HF's names:

* text tower (text_model.): embeddings.token_embedding[ids] +
  embeddings.position_embedding[0..T-1]; pre-LN layers (encoder.layers.N.):
  x + self_attn.out_proj(attn(layer_norm1(x))), then
  x + mlp.fc2(act(mlp.fc1(layer_norm2(x)))); attention q_proj/k_proj/v_proj
  (all with a bias), H heads of D = C/H consecutive columns, scores * D^-0.5.
  The text attention is causal AND drops padded keys (attention_mask 0); with
  right padding the causal mask already hides every padded key from every real
  query, so the padding mask changes only the padded positions' rows.
  final_layer_norm after the layers (last_hidden_state).
* pooled text output, one position per row: when text_config.eos_token_id is
  2 (the legacy openai configs) argmax(input_ids) (the first highest id, the
  end-of-text token in CLIP's vocabulary); otherwise the first position whose
  id is eos_token_id, and position 0 in a row that has none
  ((ids == eos).int().argmax()). text_embeds = text_projection(pooled), no bias.
  (transformers 4.31 to 4.5x test eos_token_id == 2; HF's current source tests
  instead whether every row's highest id is 49407, CLIP's real end-of-text id,
  which a 40-token vocabulary never has: see the note in the README row.)
* vision tower (vision_model.): embeddings.patch_embedding (Conv2d, kernel =
  stride = patch_size, no bias) flattened patch by patch, row-major;
  embeddings.class_embedding [C] in front; embeddings.position_embedding added;
  pre_layrnorm; the same layers, no mask; last_hidden_state is the last layer's
  output (no norm); pooled = post_layernorm(last_hidden_state[:, 0]);
  image_embeds = visual_projection(pooled), no bias.
* CLIPModel: logits_per_text = exp(logit_scale) * t @ i.T with t, i the
  embeddings divided by their L2 norms (no epsilon); logits_per_image its
  transpose. logit_scale is a 0-dim parameter (shape [] in safetensors).
  HF registers the position_ids buffers with persistent=False (since 4.31), so
  save_pretrained does not write them and these folders hold none.
* activations: quick_gelu x * sigmoid(1.702 x), gelu (exact, erf).
* CLIPImageProcessor: PIL convert("RGB") (grey replicated, alpha dropped, not
  composited), resize so the shortest edge is size["shortest_edge"] and the
  other int(shortest_edge * long / short) (get_resize_output_image_size with
  default_to_square=False; a square image goes to shortest x shortest) with
  PIL's Image.resize((W, H), resample) on the 8-bit image (reducing_gap None),
  centre crop with top = (H - crop_h) // 2, left = (W - crop_w) // 2, rescale
  (x * rescale_factor in float64, then float32), normalize ((x - mean) / std
  in float32), channels first. (torch_vit.py's preprocess does the resize,
  crop, rescale and normalize; this script only computes the resize size.)

It writes, under testdata/hf/:

* clip-tiny/: CLIPModel in F32, quick_gelu, text_config.eos_token_id 2 (the
  legacy rule), text C 32 (2 layers, 4 heads, vocabulary 40, 16 positions),
  vision C 24 (2 layers, 4 heads, 32x32 images in patches of 8), projection 16;
  preprocessor_config.json (shortest edge 32, crop 32x32, OpenAI's mean and
  std); tokenizer.json (WordLevel over the 40 ids, Lowercase, Whitespace,
  <|startoftext|> $A <|endoftext|>, specials [UNK] 0, <|startoftext|> 38,
  <|endoftext|> 39; no padding configured: callers pad with 39 as CLIP does).
* clip-tiny-eos/: CLIPModel in BF16 (references from the rounded weights),
  exact gelu in both towers, text_config.eos_token_id 39 (the first-eos rule);
  a processor that resizes the shortest edge to 40 and crops 32x32; the same
  tokenizer.json.

reference.safetensors in each (float32; the models run in float64):
input.ids [N, T] and input.attention_mask [N, T] (I64, 1 = real token; padding
is id 39), text.hidden [N, T, 32] (final_layer_norm's output, padded positions
included), text.pool_index [N] I64 (the pooled position), text.pooled [N, 32],
text.embeds [N, 16] (projected, not normalised); image.pixels [3, 3, 32, 32]
(the processor's output for testdata/images/rgb.png, gray.png, rgba.png in that
order), vision.hidden [3, 17, 24], vision.pooled [3, 24], image.embeds [3, 16];
logits_per_image [3, N]. clip-tiny has N = 3 texts; clip-tiny-eos adds two
full-length rows without an end-of-text id (one starting with <|startoftext|>,
one of words only, where argmax(ids) and the first-eos rule disagree), N = 5.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import act, folder, read_model, write_model  # noqa: E402
from torch_modernbert import pad_rows, word_ids, write_wordlevel  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_checked  # noqa: E402
from torch_vit import preprocess as vit_preprocess  # noqa: E402

SEED = 1709
OUT = os.path.join("testdata", "hf")
IMAGES = os.path.join("testdata", "images")
IMAGE_NAMES = ["rgb", "gray", "rgba"]  # 45x38 RGB, 33x33 L, 20x27 RGBA (torch_vit.py draws them)

# ids 0..39: [UNK], "!" at the legacy pad id 1, "." at the legacy eos id 2 (so
# a twin that applied the first-eos rule with eos 2 would pool at the ".").
VOCAB = ["[UNK]", "!", ".",
         "a", "photo", "of", "cat", "dog", "car", "red", "blue", "the", "on", "table", "in",
         "snow", "green", "picture", "an", "image", "bird", "tree", "house", "sky", "man",
         "woman", "with", "and", "is", "small", "big", "white", "black", "street", "two",
         "sitting", "park",
         "field", "<|startoftext|>", "<|endoftext|>"]
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
SPECIALS = ["[UNK]", BOS, EOS]
TEXTS = ["a photo of a cat", "a photo of a dog on the table .", "a red car"]
# clip-tiny-eos's two extra rows, T ids each, no end-of-text id: the start
# token and ten words; eleven words without specials.
EXTRA_BOS = "a photo of a red car in the snow ."
EXTRA_WORDS = "a small white dog and a black cat on the table"

TEXT_CONFIG = {
    "attention_dropout": 0.0,
    "bos_token_id": 38,
    "eos_token_id": 2,
    "hidden_act": "quick_gelu",
    "hidden_size": 32,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 16,
    "model_type": "clip_text_model",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 1,
    "projection_dim": 16,
    "vocab_size": 40,
}
VISION_CONFIG = {
    "attention_dropout": 0.0,
    "hidden_act": "quick_gelu",
    "hidden_size": 24,
    "image_size": 32,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 40,
    "layer_norm_eps": 1e-05,
    "model_type": "clip_vision_model",
    "num_attention_heads": 4,
    "num_channels": 3,
    "num_hidden_layers": 2,
    "patch_size": 8,
    "projection_dim": 16,
}
CONFIG = {
    "architectures": ["CLIPModel"],
    "initializer_factor": 1.0,
    "logit_scale_init_value": 2.6592,
    "model_type": "clip",
    "projection_dim": 16,
    "text_config": TEXT_CONFIG,
    "torch_dtype": "float32",
    "transformers_version": "4.48.0",
    "vision_config": VISION_CONFIG,
}
EOS_CONFIG = dict(CONFIG, torch_dtype="bfloat16",
                  text_config=dict(TEXT_CONFIG, eos_token_id=39, hidden_act="gelu"),
                  vision_config=dict(VISION_CONFIG, hidden_act="gelu"))

PROCESSOR = {
    "crop_size": {"height": 32, "width": 32},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 32},
}
EOS_PROCESSOR = dict(PROCESSOR, size={"shortest_edge": 40})


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------

def param_shapes(c):
    """CLIPModel's state_dict as save_pretrained writes it (no position_ids)."""
    t, v = c["text_config"], c["vision_config"]
    Ct, Cv, P = t["hidden_size"], v["hidden_size"], v["patch_size"]
    s = {
        "text_model.embeddings.token_embedding.weight": [t["vocab_size"], Ct],
        "text_model.embeddings.position_embedding.weight": [t["max_position_embeddings"], Ct],
        "text_model.final_layer_norm.weight": [Ct], "text_model.final_layer_norm.bias": [Ct],
        "vision_model.embeddings.class_embedding": [Cv],
        "vision_model.embeddings.patch_embedding.weight": [Cv, v["num_channels"], P, P],
        "vision_model.embeddings.position_embedding.weight": [(v["image_size"] // P) ** 2 + 1, Cv],
        "vision_model.pre_layrnorm.weight": [Cv], "vision_model.pre_layrnorm.bias": [Cv],
        "vision_model.post_layernorm.weight": [Cv], "vision_model.post_layernorm.bias": [Cv],
        "text_projection.weight": [c["projection_dim"], Ct],
        "visual_projection.weight": [c["projection_dim"], Cv],
        "logit_scale": [],
    }
    for tower, tc in (("text_model", t), ("vision_model", v)):
        s.update(encoder_shapes(tower, tc))
    return s


def encoder_shapes(tower, tc):
    """The shapes of tower's encoder layers (tc its text or vision config):
    CLIP's names, which SigLIP keeps, every Linear with a bias."""
    s = {}
    C, I = tc["hidden_size"], tc["intermediate_size"]
    for i in range(tc["num_hidden_layers"]):
        l = f"{tower}.encoder.layers.{i}."
        for lin, (o, n) in {"self_attn.q_proj": (C, C), "self_attn.k_proj": (C, C),
                            "self_attn.v_proj": (C, C), "self_attn.out_proj": (C, C),
                            "mlp.fc1": (I, C), "mlp.fc2": (C, I)}.items():
            s[l + lin + ".weight"] = [o, n]
            s[l + lin + ".bias"] = [o]
        for ln in ("layer_norm1", "layer_norm2"):
            s[l + ln + ".weight"] = [C]
            s[l + ln + ".bias"] = [C]
    return s


def draw(shapes, g, logit_scale):
    """Float32 draws large enough that every op matters: matrices (and the
    patch kernel) N(0, (2/sqrt(fan_in))^2), embeddings (class embedding too)
    N(0, 0.5^2), LayerNorm weights 1 + 0.1*randn, biases 0.1*randn."""
    p = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name == "logit_scale":
            p[name] = torch.tensor(logit_scale, dtype=torch.float32)
            continue
        r = torch.randn(shape, dtype=torch.float32, generator=g)
        if "embedding" in name and "patch_embedding" not in name:
            p[name] = 0.5 * r
        elif len(shape) >= 2:
            p[name] = (2.0 / math.sqrt(math.prod(shape[1:]))) * r
        elif ("norm" in name or "layrnorm" in name) and name.endswith(".weight"):
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def encoder(p, tower, x, c, allowed=None):
    """CLIPEncoder (and SiglipEncoder, the same): c["num_hidden_layers"]
    pre-LN layers; allowed is a boolean [B, 1, T, T] (True where query i may
    see key j) or None (no mask)."""
    Bn, Tn, C = x.shape
    H, eps = c["num_attention_heads"], c["layer_norm_eps"]
    D = C // H

    def ln(t, name):
        return F.layer_norm(t, (C,), p[name + ".weight"], p[name + ".bias"], eps)

    def lin(t, name):
        return F.linear(t, p[name + ".weight"], p.get(name + ".bias"))

    def heads(t):
        return t.view(Bn, Tn, H, D).transpose(1, 2)  # (B, H, T, D)

    for i in range(c["num_hidden_layers"]):
        l = f"{tower}.encoder.layers.{i}."
        h = ln(x, l + "layer_norm1")
        q, k, v = (heads(lin(h, l + "self_attn." + n)) for n in ("q_proj", "k_proj", "v_proj"))
        scores = (q @ k.transpose(-1, -2)) * D ** -0.5
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        ctx = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + lin(ctx, l + "self_attn.out_proj")
        x = x + lin(act(c["hidden_act"], lin(ln(x, l + "layer_norm2"), l + "mlp.fc1")), l + "mlp.fc2")
    return x


def pool_index(ids, eos_token_id):
    """The pooled position of each row (modeling_clip.py, 4.31 to 4.5x)."""
    if eos_token_id == 2:  # legacy configs: the first highest id
        return ids.to(torch.int32).argmax(dim=-1)
    return (ids.to(torch.int32) == eos_token_id).int().argmax(dim=-1)


def text_forward(p, ids, mask, c, causal=True, padding=True):
    """(last_hidden_state [B,T,C], pooled [B,C], pooled positions [B],
    text_embeds [B,P]); causal/padding switch the two masks (sanity checks)."""
    t = c["text_config"]
    Bn, Tn = ids.shape
    x = p["text_model.embeddings.token_embedding.weight"][ids] + p["text_model.embeddings.position_embedding.weight"][:Tn]
    allowed = torch.ones(Bn, 1, Tn, Tn, dtype=torch.bool)
    if causal:
        allowed = allowed & torch.ones(Tn, Tn, dtype=torch.bool).tril()
    if padding:
        allowed = allowed & mask.bool()[:, None, None, :]
    x = encoder(p, "text_model", x, t, allowed)
    x = F.layer_norm(x, (t["hidden_size"],), p["text_model.final_layer_norm.weight"],
                     p["text_model.final_layer_norm.bias"], t["layer_norm_eps"])
    idx = pool_index(ids, t["eos_token_id"]).long()
    pooled = x[torch.arange(Bn), idx]
    return x, pooled, idx, F.linear(pooled, p["text_projection.weight"])


def vision_forward(p, pixels, c):
    """(last_hidden_state [B,N+1,C] (no norm), pooled [B,C], image_embeds [B,P])."""
    v = c["vision_config"]
    C, eps = v["hidden_size"], v["layer_norm_eps"]
    e = "vision_model.embeddings."
    x = F.conv2d(pixels, p[e + "patch_embedding.weight"], stride=v["patch_size"]).flatten(2).transpose(1, 2)
    cls = p[e + "class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + p[e + "position_embedding.weight"]
    x = F.layer_norm(x, (C,), p["vision_model.pre_layrnorm.weight"], p["vision_model.pre_layrnorm.bias"], eps)
    x = encoder(p, "vision_model", x, v)
    pooled = F.layer_norm(x[:, 0], (C,), p["vision_model.post_layernorm.weight"], p["vision_model.post_layernorm.bias"], eps)
    return x, pooled, F.linear(pooled, p["visual_projection.weight"])


def clip_forward(p, ids, mask, pixels, c):
    """Every reference output of CLIPModel, by reference name."""
    th, tp, idx, te = text_forward(p, ids, mask, c)
    vh, vp, ie = vision_forward(p, pixels, c)

    def unit(x):
        return x / x.pow(2).sum(dim=-1, keepdim=True).pow(0.5)

    logits_per_text = (unit(te) @ unit(ie).t()) * p["logit_scale"].exp()
    return {"text.hidden": th, "text.pooled": tp, "text.pool_index": idx, "text.embeds": te,
            "vision.hidden": vh, "vision.pooled": vp, "image.embeds": ie,
            "logits_per_image": logits_per_text.t()}


# --------------------------------------------------------------------------
# the image processor
# --------------------------------------------------------------------------

def resize_size(width, height, shortest):
    """(H, W) of get_resize_output_image_size(size=shortest, default_to_square=False)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = shortest, int(shortest * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def preprocess(path, proc):
    """CLIPImageProcessor on one image file: ([3, h, w] float32 pixels, the
    resized (H, W), the crop's (top, left))."""
    with Image.open(path) as im:
        w, h = im.size
    H, W = resize_size(w, h, proc["size"]["shortest_edge"])
    pixels, _ = vit_preprocess(path, dict(proc, size={"height": H, "width": W}))
    ch, cw = proc["crop_size"]["height"], proc["crop_size"]["width"]
    return pixels, (H, W), ((H - ch) // 2, (W - cw) // 2)


def pillow_resample(arr, W, H, resample):
    """Pillow's Resample.c on uint8 [h, w, C]: separable (horizontal pass,
    then vertical), filter support scaled by max(1, in/out), coefficients
    normalised per output pixel and rounded to 22-bit fixed point, each pass
    rounded and clipped to 8 bits. resample 3 bicubic (a = -0.5), 2 bilinear."""
    PB = 22

    def cubic(x):
        x = abs(x)
        if x < 1.0:
            return (1.5 * x - 2.5) * x * x + 1
        if x < 2.0:
            return (((x - 5) * x + 8) * x - 4) * -0.5
        return 0.0

    def triangle(x):
        x = abs(x)
        return 1.0 - x if x < 1.0 else 0.0

    filt, support0 = {3: (cubic, 2.0), 2: (triangle, 1.0)}[resample]

    def coeffs(in_size, out_size):
        scale = in_size / out_size
        fs = max(scale, 1.0)
        support = support0 * fs
        out = []
        for xx in range(out_size):
            center = (xx + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size)
            w = [filt((x - center + 0.5) / fs) for x in range(xmin, xmax)]
            ww = sum(w)
            w = [k / ww if ww != 0.0 else k for k in w]
            kk = [int(k * (1 << PB) - 0.5) if k < 0 else int(k * (1 << PB) + 0.5) for k in w]
            out.append((xmin, np.array(kk, dtype=np.int64)))
        return out

    def apply(a, out_size):  # resample axis 1 of a [n, m, C]
        res = np.empty((a.shape[0], out_size, a.shape[2]), dtype=np.uint8)
        for xx, (xmin, kk) in enumerate(coeffs(a.shape[1], out_size)):
            ss = (1 << (PB - 1)) + np.einsum("nkc,k->nc", a[:, xmin:xmin + len(kk)].astype(np.int64), kk)
            res[:, xx] = np.clip(ss >> PB, 0, 255)
        return res

    h, w = arr.shape[:2]
    if W != w:
        arr = apply(arr, W)
    if H != h:
        arr = apply(arr.transpose(1, 0, 2), H).transpose(1, 0, 2)
    return arr


def numpy_processor(path, proc):
    """The processor again, without Pillow's resize or convert: [3, h, w]
    float32. CLIP's (size shortest_edge, then the centre crop) or SigLIP's
    (size height and width, no do_center_crop), with proc's resample."""
    with Image.open(path) as im:
        raw = np.array(im)
    if raw.ndim == 2:
        raw = np.stack([raw] * 3, axis=-1)
    raw = raw[:, :, :3]
    size = proc["size"]
    if "shortest_edge" in size:
        H, W = resize_size(raw.shape[1], raw.shape[0], size["shortest_edge"])
    else:
        H, W = size["height"], size["width"]
    arr = pillow_resample(raw, W, H, proc["resample"])
    if proc.get("do_center_crop"):
        ch, cw = proc["crop_size"]["height"], proc["crop_size"]["width"]
        top, left = (H - ch) // 2, (W - cw) // 2
        arr = arr[top:top + ch, left:left + cw]
    x = (arr.astype(np.float64) * proc["rescale_factor"]).astype(np.float32)
    x = (x - np.array(proc["image_mean"], dtype=np.float32)) / np.array(proc["image_std"], dtype=np.float32)
    return x.transpose(2, 0, 1)


def check_pixels(pixels, proc, tag):
    """Require numpy_processor to give pixels [images, 3, h, w] (the
    processor's output for IMAGE_NAMES) bit for bit."""
    for n, path in enumerate(os.path.join(IMAGES, f"{m}.png") for m in IMAGE_NAMES):
        mine = numpy_processor(path, proc)
        if mine.tobytes() != pixels[n].float().numpy().tobytes():
            raise SystemExit(f"{tag}: {path}: numpy processor differs by {np.abs(mine - pixels[n].numpy()).max()}")


# --------------------------------------------------------------------------
# the inputs
# --------------------------------------------------------------------------

def encode(text, specials=True):
    """What tokenizer.json gives for text (no specials inside it): lowercase,
    runs of word characters and runs of punctuation, unknown words 0."""
    out = word_ids(text, VOCAB)
    return [VOCAB.index(BOS)] + out + [VOCAB.index(EOS)] if specials else out


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------

def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def write_reference(path, ref, case, texts, sizes):
    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": case,
        "torch": torch.__version__,
        "pillow": Image.__version__,
        "config": json.dumps({"texts": texts, "images": [f"testdata/images/{n}.png" for n in IMAGE_NAMES],
                              "resized_hw": sizes}, sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_clip.py",
    }
    write_checked(path, tensors, meta)


def sanity(p, ids, mask, pixels, c, proc, tag):
    """Checks of the twin itself; prints the pooled positions."""
    t = c["text_config"]
    with torch.no_grad():
        base = text_forward(p, ids, mask, c)
        nocausal = text_forward(p, ids, mask, c, causal=False)
        nopad = text_forward(p, ids, mask, c, padding=False)
    real = mask.bool()
    d = (base[0] - nocausal[0])[real].abs().max().item()
    if d < 1e-3:
        raise SystemExit(f"{tag}: dropping the causal mask changes the real positions by only {d:.2e}")
    # Right padding: the causal mask already hides padded keys from real queries.
    dr = (base[0] - nopad[0])[real].abs().max().item()
    dp = (base[0] - nopad[0])[~real].abs().max().item() if (~real).any() else 0.0
    if dr > 1e-12 or ((~real).any() and dp < 1e-3):
        raise SystemExit(f"{tag}: padding mask: real positions moved {dr:.2e}, padded {dp:.2e}")
    # The pooled index against a plain loop over the rule.
    want = []
    for row in ids.tolist():
        if t["eos_token_id"] == 2:
            want.append(row.index(max(row)))
        else:
            want.append(row.index(t["eos_token_id"]) if t["eos_token_id"] in row else 0)
    if base[2].tolist() != want:
        raise SystemExit(f"{tag}: pooled positions {base[2].tolist()}, want {want}")
    legacy = pool_index(ids, 2).tolist()
    first_eos = [row.index(39) if 39 in row else 0 for row in ids.tolist()]
    print(f"{tag}: eos_token_id {t['eos_token_id']}: pooled positions {base[2].tolist()} "
          f"(argmax(ids) {legacy}, first 39 {first_eos}); without the causal mask max|d hidden| {d:.3f}, "
          f"without the padding mask real {dr:.1e}, padded {dp:.3f}")
    check_pixels(pixels, proc, tag)
    print(f"{tag}: the numpy re-implementation of the processor (Pillow's bicubic in fixed point) gives the same bits")


def build(name, c, proc, rows, texts, dtype, g, case):
    d = folder(name, c)
    write_model(os.path.join(d, "model.safetensors"), draw(param_shapes(c), g, c["logit_scale_init_value"]), dtype)
    write_json(os.path.join(d, "preprocessor_config.json"), proc)
    # WordLevel, Lowercase, Whitespace, <|startoftext|> $A <|endoftext|>
    write_wordlevel(os.path.join(d, "tokenizer.json"), VOCAB, SPECIALS, "[UNK]",
                    f"{BOS} $A {EOS}", f"{BOS} $A {EOS} $B:1 {EOS}:1")
    p = read_model(os.path.join(d, "model.safetensors"))
    if sorted(p) != sorted(param_shapes(c)):
        raise SystemExit(f"{name}: stored names differ")
    # right-padded with the end-of-text id 39 as CLIP's tokenizer pads
    ids, mask = pad_rows(rows, max(len(r) for r in rows), VOCAB.index(EOS))
    px, sizes = [], {}
    for m in IMAGE_NAMES:
        pixels, hw, tl = preprocess(os.path.join(IMAGES, f"{m}.png"), proc)
        px.append(pixels)
        sizes[m] = {"resized_hw": list(hw), "crop_top_left": list(tl)}
    pixels = torch.stack(px)
    sanity(p, ids, mask, pixels, c, proc, name)
    with torch.no_grad():
        out = clip_forward(p, ids, mask, pixels.double(), c)
    ref = {"input.ids": ids, "input.attention_mask": mask, "image.pixels": pixels}
    ref.update(out)
    write_reference(os.path.join(d, "reference.safetensors"), ref, case, texts, sizes)
    return ref, sizes


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    rows = [encode(t) for t in TEXTS]
    ref, sizes = build("clip-tiny", CONFIG, PROCESSOR, rows, TEXTS, torch.float32, g,
                       "tiny CLIPModel in F32 (HF semantics, legacy eos_token_id 2: pooled at argmax(ids))")
    Tn = max(len(r) for r in rows)
    extra = [encode(EXTRA_BOS)[:-1], encode(EXTRA_WORDS, specials=False)]
    if any(len(r) != Tn for r in extra):
        raise SystemExit(f"extra rows have {[len(r) for r in extra]} ids, want {Tn}")
    texts = TEXTS + ["<|startoftext|> " + EXTRA_BOS + " (no <|endoftext|>)", EXTRA_WORDS + " (no specials)"]
    eref, esizes = build("clip-tiny-eos", EOS_CONFIG, EOS_PROCESSOR, rows + extra, texts, torch.bfloat16, g,
                         "tiny CLIPModel in BF16 (HF semantics, eos_token_id 39: pooled at the first 39, gelu)")

    for name in ("clip-tiny", "clip-tiny-eos"):
        for fn in sorted(os.listdir(os.path.join(OUT, name))):
            print(f"{os.path.join(OUT, name, fn):50s} {os.path.getsize(os.path.join(OUT, name, fn)):7d} bytes")
    for name, r, s in (("clip-tiny", ref, sizes), ("clip-tiny-eos", eref, esizes)):
        print(name, "ids", r["input.ids"].tolist())
        print(name, "images", json.dumps(s, sort_keys=True))
        print(name, " ".join(f"{k} {list(v.shape)} max|x| {v.abs().max().item():.3f}" for k, v in r.items()
                             if v.is_floating_point()))
        print(name, "logits_per_image", r["logits_per_image"].numpy().round(3).tolist())


def check_folder(d, src):
    """Load a CLIP folder (config.json, model.safetensors) that attn's Save
    wrote from clip-tiny or clip-tiny-eos (src, a name or a path) and compare
    its outputs on src's reference inputs with src's references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "clip":
        raise SystemExit(f"{d}: model_type is {cfg.get('model_type')!r}")
    p = read_model(os.path.join(d, "model.safetensors"))
    rp = src if os.path.isdir(src) else os.path.join(OUT, src)
    g, _ = read_safetensors(os.path.join(rp, "reference.safetensors"))
    with torch.no_grad():
        out = clip_forward(p, g["input.ids"], g["input.attention_mask"], g["image.pixels"].double(), cfg)
    if out["text.pool_index"].tolist() != g["text.pool_index"].tolist():
        raise SystemExit(f"{d}: pooled positions {out['text.pool_index'].tolist()}, "
                         f"the references have {g['text.pool_index'].tolist()}")
    names = ["text.embeds", "image.embeds", "logits_per_image", "text.hidden", "text.pooled", "vision.hidden", "vision.pooled"]
    errs = {k: (out[k] - g[k].double()).abs().max().item() for k in names}
    print(f"{d} (against {rp}): max abs error " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        if len(sys.argv) != 4:
            raise SystemExit("usage: torch_clip.py --check DIR REF (REF: clip-tiny or clip-tiny-eos)")
        check_folder(sys.argv[2], sys.argv[3])
    else:
        main()
