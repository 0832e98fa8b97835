#!/usr/bin/python3
"""Write tiny HuggingFace ViT and DeiT folders, test images and reference outputs for model/vit.

Run from the repository root with the Debian PyTorch and Pillow (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_vit.py
    /usr/bin/python3 tools/golden/torch_vit.py --check DIR   # check an exported folder

There is no transformers package here, so the image processor and the model
are written out with the semantics of HF's image_processing_vit.py and
modeling_vit.py (ViTModel, ViTForImageClassification):

* images: the pipeline's load_image (PIL convert("RGB"): grey replicated,
  alpha dropped), then ViTImageProcessor: PIL Image.resize((W, H), resample)
  on the 8-bit image, rescale (x * rescale_factor, in float64, then float32)
  and normalize ((x - mean) / std in float32), channels first.
* embeddings: the patch Conv2d (kernel = stride = patch_size) flattened
  patch by patch, row-major; the cls_token in front; position_embeddings
  added.
* pre-LN layers: x + attention.output.dense(attn(layernorm_before(x))), then
  x + output.dense(act(intermediate.dense(layernorm_after(x)))); attention is
  query/key/value with H heads of D = C/H, scores / sqrt(D), no mask.
* the final layernorm; ViTModel's pooler tanh(pooler.dense(h[:, 0]));
  ViTForImageClassification's classifier(h[:, 0]).
* DeiT (modeling_deit.py): a distillation token after the class token (two
  more positions), and DeiTForImageClassificationWithTeacher's logits, the
  mean of cls_classifier(h[:, 0]) and distillation_classifier(h[:, 1]);
  DeiTImageProcessor resizes, then crops the centre (offsets rounded down).

It writes:

* testdata/images/{rgb,rgba,gray}.png: 45x38 RGB, 20x27 RGBA (upscaled by
  the processors) and 33x33 greyscale test images, drawn from a seeded RNG;
  s444.jpg, s422.jpg, s420.jpg: the RGB image at 61x47 as JPEG with each
  chroma subsampling, and jpeg.<sampling> in the references, Pillow's
  decoding of them; orient2..8.png (7x5) and orient6.jpg carry EXIF
  orientations, and orient.<o> is each turned upright as HF's load_image
  turns it (ImageOps.exif_transpose).
* testdata/hf/vit-tiny/: config.json (ViTForImageClassification, 32x32
  images, patches of 8, C 32, 2 layers of 4 heads, exact GELU, 5 labels),
  preprocessor_config.json (bilinear, mean and std 0.5) and model.safetensors
  in F32 with the "vit." prefix and the classifier, no pooler.
  vit-tiny/reference.safetensors holds the references below.
* testdata/hf/vit-tiny-bf16/: a ViTModel (no prefix, with the pooler, no
  classifier) in BF16 with gelu_new, and a processor that resizes bicubic
  to 32x32 and normalises with ImageNet's mean and std.
* testdata/hf/deit-tiny-distilled/: a DeiTForImageClassificationWithTeacher
  ("deit." prefix, 4 labels) in F16, with a DeiTImageProcessor that resizes
  bicubic to 40×37 and crops the 32×32 centre.
* testdata/hf/vit-tiny-wrong-shape/: the F32 model with a patch projection
  of kernel 4 instead of 8 (a config/weights mismatch that must be an error).

References (float32; the models run in float64 from the stored weights):
pixels.<processor>.<image> [3, 32, 32] for the processors and all three
images, resized.<processor>.<image> [32, 32, 3] (the 8-bit image after
PIL's resize, U8), resized.filter<F>.<image> [35, 29, 3] (each
image resized to 29 wide and 35 high with Pillow's filter F: 1 Lanczos, 2
bilinear, 3 bicubic, 4 box, 5 Hamming; U8), then for the batch of the three images in the
order rgb, rgba, gray through each model: f32.hidden [3, 17, 32],
f32.logits [3, 5], bf16.hidden, bf16.pooled [3, 32], deit.hidden [3, 18, 32],
deit.logits [3, 4] (pixels.deit.<image> are the DeiT processor's); and f32.loss, the
mean cross-entropy of the f32 logits against TARGETS, with f32.grad.<name>,
its gradient with respect to the GRADS parameters (names without "vit.").
"""

import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import act, read_model, write_model  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_safetensors  # noqa: E402

SEED = 907
OUT = os.path.join("testdata", "hf")
IMAGES = os.path.join("testdata", "images")
TARGETS = [1, 3, 0]  # the labels of rgb, rgba, gray for the gradient reference
GRADS = ["embeddings.cls_token", "embeddings.position_embeddings", "embeddings.patch_embeddings.projection.weight",
         "encoder.layer.0.attention.attention.query.weight", "encoder.layer.1.layernorm_before.bias", "classifier.weight"]
LABELS = ["tabby cat", "golden retriever", "tram", "espresso", "volcano"]

CONFIG = {
    "architectures": ["ViTForImageClassification"],
    "attention_probs_dropout_prob": 0.0,
    "encoder_stride": 8,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "hidden_size": 32,
    "id2label": {str(i): l for i, l in enumerate(LABELS)},
    "label2id": {l: i for i, l in enumerate(LABELS)},
    "image_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-12,
    "model_type": "vit",
    "num_attention_heads": 4,
    "num_channels": 3,
    "num_hidden_layers": 2,
    "patch_size": 8,
    "qkv_bias": True,
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
}

PROCESSORS = {
    "bilinear": {
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor",
        "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
        "size": {"height": 32, "width": 32},
    },
    "bicubic": {
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "ViTImageProcessor",
        "image_std": [0.229, 0.224, 0.225], "resample": 3, "rescale_factor": 0.00392156862745098,
        "size": {"height": 32, "width": 32},
    },
    "deit": {  # DeiTImageProcessor: resize larger, then crop the centre
        "crop_size": {"height": 32, "width": 32}, "do_center_crop": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "DeiTImageProcessor",
        "image_std": [0.229, 0.224, 0.225], "resample": 3, "rescale_factor": 0.00392156862745098,
        "size": {"height": 37, "width": 40},
    },
}
DEIT_LABELS = ["ant", "bee", "cat", "dog"]


def make_images():
    """Smooth colour gradients with ripples and noise, so that resizing has
    detail to average."""
    os.makedirs(IMAGES, exist_ok=True)
    out = {}
    for name, (w, h, mode) in {"rgb": (45, 38, "RGB"), "rgba": (20, 27, "RGBA"), "gray": (33, 33, "L")}.items():
        y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
        chans = []
        for c in range(len(mode)):
            v = 128 + 90 * torch.sin(x / (3 + c) + y / (5 + 2 * c)) + 30 * torch.cos(x * y / 40 + c)
            v += 25 * torch.randn(h, w, dtype=torch.float64)
            chans.append(v.clamp(0, 255).round().to(torch.uint8))
        arr = torch.stack(chans, -1).numpy() if len(mode) > 1 else chans[0].numpy()
        path = os.path.join(IMAGES, name + ".png")
        Image.fromarray(arr, mode).save(path)
        out[name] = path
    return out


def make_jpegs(ref):
    """The RGB test image, upscaled to an odd 61×47, saved as JPEG with
    chroma at 4:4:4, 4:2:2 and 4:2:0; ref gets Pillow's decoding of each
    (jpeg.<sampling>, [47, 61, 3]): libjpeg's, with its fancy upsampling."""
    im = Image.open(os.path.join(IMAGES, "rgb.png")).convert("RGB").resize((61, 47), Image.BICUBIC)
    for name, sub in (("s444", 0), ("s422", 1), ("s420", 2)):
        path = os.path.join(IMAGES, name + ".jpg")
        im.save(path, quality=85, subsampling=sub)
        ref["jpeg." + name] = torch.from_numpy(np.array(Image.open(path).convert("RGB")))
    # EXIF orientations: a 7×5 PNG for each of 2..8 and a JPEG at 6 (as
    # phones write them); references as HF's load_image turns them upright.
    small = im.resize((7, 5), Image.BICUBIC)
    for o in range(2, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        path = os.path.join(IMAGES, f"orient{o}.png")
        small.save(path, exif=exif)
        ref[f"orient.{o}"] = torch.from_numpy(np.array(ImageOps.exif_transpose(Image.open(path)).convert("RGB")))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = os.path.join(IMAGES, "orient6.jpg")
    im.save(path, quality=85, exif=exif)
    ref["orient.6jpg"] = torch.from_numpy(np.array(ImageOps.exif_transpose(Image.open(path)).convert("RGB")))
    # 3×5 at 4:2:0: chroma two samples wide, which libjpeg repeats instead
    # of filtering.
    path = os.path.join(IMAGES, "tiny420.jpg")
    im.resize((3, 5), Image.BICUBIC).save(path, quality=85, subsampling=2)
    ref["jpeg.tiny420"] = torch.from_numpy(np.array(Image.open(path).convert("RGB")))


def preprocess(path, proc):
    """ViTImageProcessor on load_image(path): ([3, H, W] float32 pixels,
    the resized 8-bit image as [H, W, 3])."""
    img = Image.open(path).convert("RGB")
    size = proc["size"]
    img = img.resize((size["width"], size["height"]), resample=proc["resample"])
    arr = np.array(img)  # uint8 (H, W, 3)
    if proc.get("do_center_crop"):  # HF's center_crop: offsets rounded down
        ch, cw = proc["crop_size"]["height"], proc["crop_size"]["width"]
        top, left = (arr.shape[0] - ch) // 2, (arr.shape[1] - cw) // 2
        arr = arr[top:top + ch, left:left + cw]
    x = (arr.astype(np.float64) * proc["rescale_factor"]).astype(np.float32)
    mean = np.array(proc["image_mean"], dtype=np.float32)
    std = np.array(proc["image_std"], dtype=np.float32)
    x = (x - mean) / std
    return torch.from_numpy(x.transpose(2, 0, 1).copy()), torch.from_numpy(arr.copy())


def param_shapes(c, prefix="vit.", pooler=False, classifier=True):
    C, I, P, N = c["hidden_size"], c["intermediate_size"], c["patch_size"], c["num_channels"]
    n = (c["image_size"] // P) ** 2
    deit = c["model_type"] == "deit"
    s = {
        prefix + "embeddings.cls_token": [1, 1, C],
        prefix + "embeddings.position_embeddings": [1, n + (2 if deit else 1), C],
        prefix + "embeddings.patch_embeddings.projection.weight": [C, N, P, P],
        prefix + "embeddings.patch_embeddings.projection.bias": [C],
        prefix + "layernorm.weight": [C], prefix + "layernorm.bias": [C],
    }
    for i in range(c["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{i}."
        for lin, (o, k) in {
            "attention.attention.query": (C, C), "attention.attention.key": (C, C),
            "attention.attention.value": (C, C), "attention.output.dense": (C, C),
            "intermediate.dense": (I, C), "output.dense": (C, I),
        }.items():
            s[p + lin + ".weight"] = [o, k]
            s[p + lin + ".bias"] = [o]
        for ln in ("layernorm_before", "layernorm_after"):
            s[p + ln + ".weight"] = [C]
            s[p + ln + ".bias"] = [C]
    if pooler:
        s[prefix + "pooler.dense.weight"] = [C, C]
        s[prefix + "pooler.dense.bias"] = [C]
    if deit:
        s[prefix + "embeddings.distillation_token"] = [1, 1, C]
    heads = ["cls_classifier", "distillation_classifier"] if deit else ["classifier"]
    for h in heads if classifier else []:
        s[h + ".weight"] = [len(c["id2label"]), C]
        s[h + ".bias"] = [len(c["id2label"])]
    return s


def init_params(shapes):
    """Float32 draws large enough that every op matters (as torch_bert.py)."""
    p = {}
    for name, shape in shapes.items():
        r = torch.randn(shape, dtype=torch.float32)
        if name.endswith(("cls_token", "distillation_token", "position_embeddings")):
            p[name] = 0.5 * r
        elif len(shape) >= 2:
            fan_in = math.prod(shape[1:])
            p[name] = (1.2 / math.sqrt(fan_in)) * r
        elif "layernorm" in name and name.endswith("weight"):
            p[name] = 1 + 0.1 * r
        else:
            p[name] = 0.1 * r
    return p


def forward(p, pixels, c, prefix="vit."):
    """(last hidden state [B, N+1, C], pooled [B, C] or None, logits or None)."""
    C, H, eps, a, P = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"], c["hidden_act"], c["patch_size"]
    D = C // H
    e = prefix + "embeddings."
    x = F.conv2d(pixels, p[e + "patch_embeddings.projection.weight"], p[e + "patch_embeddings.projection.bias"], stride=P)
    x = x.flatten(2).transpose(1, 2)  # (B, N, C)
    Bn = x.shape[0]
    first = [p[e + "cls_token"].expand(Bn, -1, -1)]
    if e + "distillation_token" in p:  # DeiT: class, distillation, then patch tokens
        first.append(p[e + "distillation_token"].expand(Bn, -1, -1))
    x = torch.cat(first + [x], dim=1) + p[e + "position_embeddings"]
    Tn = x.shape[1]

    def heads(t):
        return t.view(Bn, Tn, H, D).permute(0, 2, 1, 3)

    def lin(t, name):
        return F.linear(t, p[name + ".weight"], p[name + ".bias"])

    def ln(t, name):
        return F.layer_norm(t, (C,), p[name + ".weight"], p[name + ".bias"], eps)

    for i in range(c["num_hidden_layers"]):
        l = f"{prefix}encoder.layer.{i}."
        h = ln(x, l + "layernorm_before")
        q, k, v = (heads(lin(h, l + "attention.attention." + n)) for n in ("query", "key", "value"))
        ctx = ((q @ k.transpose(-1, -2) / math.sqrt(D)).softmax(-1) @ v).permute(0, 2, 1, 3).reshape(Bn, Tn, C)
        x = x + lin(ctx, l + "attention.output.dense")
        x = x + lin(act(a, lin(ln(x, l + "layernorm_after"), l + "intermediate.dense")), l + "output.dense")
    x = ln(x, prefix + "layernorm")
    pooled = torch.tanh(lin(x[:, 0], prefix + "pooler.dense")) if prefix + "pooler.dense.weight" in p else None
    logits = lin(x[:, 0], "classifier") if "classifier.weight" in p else None
    if "cls_classifier.weight" in p:  # DeiTForImageClassificationWithTeacher
        logits = (lin(x[:, 0], "cls_classifier") + lin(x[:, 1], "distillation_classifier")) / 2
    return x, pooled, logits


def folder(name, config, proc):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for fn, v in (("config.json", config), ("preprocessor_config.json", proc)):
        with open(os.path.join(d, fn), "w") as f:
            json.dump(v, f, indent=2, sort_keys=True)
            f.write("\n")
    return d


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    images = make_images()
    ref = {}
    make_jpegs(ref)
    batches = {}
    for pname, proc in PROCESSORS.items():
        px = []
        for iname, path in images.items():
            pixels, resized = preprocess(path, proc)
            ref[f"pixels.{pname}.{iname}"] = pixels
            ref[f"resized.{pname}.{iname}"] = resized
            px.append(pixels)
        batches[pname] = torch.stack(px).double()
    for f in (1, 2, 3, 4, 5):  # every Pillow filter, to 29 wide and 35 high
        for iname, path in images.items():
            arr = np.array(Image.open(path).convert("RGB").resize((29, 35), resample=f))
            ref[f"resized.filter{f}.{iname}"] = torch.from_numpy(arr)

    c = CONFIG
    p32 = init_params(param_shapes(c))
    d = folder("vit-tiny", c, PROCESSORS["bilinear"])
    write_model(os.path.join(d, "model.safetensors"), p32, torch.float32)
    stored = read_model(os.path.join(d, "model.safetensors"))
    for v in stored.values():
        v.requires_grad_(True)
    hidden, _, logits = forward(stored, batches["bilinear"], c)
    loss = F.cross_entropy(logits, torch.tensor(TARGETS))
    loss.backward()
    ref["f32.hidden"], ref["f32.logits"], ref["f32.loss"] = hidden, logits, loss.reshape(1)
    for name in GRADS:
        ref["f32.grad." + name] = stored["vit." + name if not name.startswith("classifier") else name].grad

    cbf = dict(c, hidden_act="gelu_new", torch_dtype="bfloat16", architectures=["ViTModel"])
    for k in ("id2label", "label2id"):
        cbf.pop(k)
    pbf = init_params(param_shapes(cbf, prefix="", pooler=True, classifier=False))
    d = folder("vit-tiny-bf16", cbf, PROCESSORS["bicubic"])
    write_model(os.path.join(d, "model.safetensors"), pbf, torch.bfloat16)
    hidden, pooled, _ = forward(read_model(os.path.join(d, "model.safetensors")), batches["bicubic"], cbf, prefix="")
    ref["bf16.hidden"], ref["bf16.pooled"] = hidden, pooled

    cd = dict(c, model_type="deit", architectures=["DeiTForImageClassificationWithTeacher"], torch_dtype="float16",
              id2label={str(i): l for i, l in enumerate(DEIT_LABELS)}, label2id={l: i for i, l in enumerate(DEIT_LABELS)})
    pd = init_params(param_shapes(cd, prefix="deit."))
    d = folder("deit-tiny-distilled", cd, PROCESSORS["deit"])
    write_model(os.path.join(d, "model.safetensors"), pd, torch.float16)
    hidden, _, logits = forward(read_model(os.path.join(d, "model.safetensors")), batches["deit"], cd, prefix="deit.")
    ref["deit.hidden"], ref["deit.logits"] = hidden, logits

    d = folder("vit-tiny-wrong-shape", c, PROCESSORS["bilinear"])
    wrong = dict(p32)
    name = "vit.embeddings.patch_embeddings.projection.weight"
    wrong[name] = p32[name][:, :, :4, :4].contiguous()
    write_model(os.path.join(d, "model.safetensors"), wrong, torch.float32)

    # 8-bit images stay U8; the rest float32.
    tensors = {k: v.contiguous() if v.dtype == torch.uint8 else to_storage(v) for k, v in ref.items()}
    meta = {
        "case": "tiny ViT (HF ViTImageProcessor, ViTModel, ViTForImageClassification semantics)",
        "torch": torch.__version__,
        "pillow": Image.__version__,
        "images": "rgb, rgba, gray (testdata/images)",
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_vit.py",
    }
    path = os.path.join(OUT, "vit-tiny", "reference.safetensors")
    write_safetensors(path, tensors, meta)
    back, bmeta = read_safetensors(path)
    if set(back) != set(tensors) or bmeta != meta:
        raise SystemExit(f"{path}: names or metadata differ after reading back")
    for root in [IMAGES] + [os.path.join(OUT, n) for n in ("vit-tiny", "vit-tiny-bf16", "deit-tiny-distilled", "vit-tiny-wrong-shape")]:
        for fn in sorted(os.listdir(root)):
            print(f"{os.path.join(root, fn):60s} {os.path.getsize(os.path.join(root, fn)):7d} bytes")
    print("f32 logits", ref["f32.logits"].detach().numpy().round(3).tolist())


def check_folder(d):
    """Load a ViT or DeiT folder (e.g. one attn's vit.Save wrote from
    vit-tiny or deit-tiny-distilled) and compare its outputs with the
    references of that model (f32 or deit)."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    kind = cfg.get("model_type")
    if kind not in ("vit", "deit"):
        raise SystemExit(f"{d}: model_type is not vit or deit")
    tag, proc = {"vit": ("f32", "bilinear"), "deit": ("deit", "deit")}[kind]
    p = read_model(os.path.join(d, "model.safetensors"))
    g, _ = read_safetensors(os.path.join(OUT, "vit-tiny", "reference.safetensors"))
    pixels = torch.stack([g[f"pixels.{proc}.{n}"] for n in ("rgb", "rgba", "gray")]).double()
    prefix = kind + "." if any(k.startswith(kind + ".") for k in p) else ""
    hidden, _, logits = forward(p, pixels, cfg, prefix=prefix)
    errs = {"hidden": (hidden - g[tag + ".hidden"].double()).abs().max().item()}
    if logits is not None:
        errs["logits"] = (logits - g[tag + ".logits"].double()).abs().max().item()
    print(f"{d}: max abs error " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    if max(errs.values()) > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2])
    else:
        main()
