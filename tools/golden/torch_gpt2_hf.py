#!/usr/bin/python3
"""Write tiny HuggingFace GPT-2 folders and reference outputs for model/gpt.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_gpt2_hf.py
    /usr/bin/python3 tools/golden/torch_gpt2_hf.py --check DIR   # check an exported folder

The forward pass is torch_gpt.py's plain-torch GPT2LMHeadModel (Conv1D
weights [in, out], pre-LN, gelu_new, lm_head tied to wte), run in float64 on
the weights as stored (read back, so F16/BF16 rounding is included).

It writes, under testdata/hf/ (each folder under 70 KB):

* gpt2-tiny/: config.json (GPT2Config's fields, model_type "gpt2") and
  model.safetensors in F32 as a GPT2LMHeadModel state dict has it: every
  name under "transformer.", the causal-mask buffers h.{i}.attn.bias
  [1,1,P,P] and h.{i}.attn.masked_bias of older checkpoints, and the tied
  lm_head.weight stored as a copy of wte.weight.
  gpt2-tiny/reference.safetensors holds the inputs and every reference output.
* gpt2-tiny-sharded/: the same weights as GPT-2's own model.safetensors
  names them (no prefix, no lm_head), in two shards with
  model.safetensors.index.json.
* gpt2-tiny-f16/: weights rounded to F16, "transformer." prefix, no lm_head.
* gpt2-tiny-bf16/: weights rounded to BF16, no prefix.
* gpt2-tiny-layerscale/: F16 weights, no prefix, with
  scale_attn_by_inverse_layer_idx (and reorder_and_upcast_attn) set: its
  logits are layerscale.logits.
* gpt2-tiny-wrong-shape/, gpt2-tiny-missing/, gpt2-tiny-untied/: corrupted
  copies (h.1.mlp.c_fc.weight stored transposed, as a Linear would have it;
  h.1.ln_2.bias left out; an lm_head.weight that differs from wte.weight,
  which attn does not support).

Reference outputs: input.ids [2,12] I64; per variant (f32, f16, bf16)
<v>.logits [2,12,V]; input.prompt [1,4] and <v>.greedy [1,10]: ten greedy
tokens after the prompt, each the argmax of a full forward pass over the
sequence so far (no cache, not stopped at the end token).

With --check, it instead loads the GPT-2 folder DIR (for instance one that
attn's gpt.Save wrote from gpt2-tiny) and requires its logits on the
reference inputs to match f32.logits to 1e-4 and its greedy tokens to match.
"""

import json
import os
import shutil
import sys

import torch

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import read_model, write_model  # noqa: E402
from torch_gpt import forward, init_params  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_safetensors  # noqa: E402

SEED = 911
OUT = os.path.join("testdata", "hf")

CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 49,
    "embd_pdrop": 0.1,
    "eos_token_id": 49,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-5,
    "model_type": "gpt2",
    "n_ctx": 24,
    "n_embd": 24,
    "n_head": 3,
    "n_inner": None,
    "n_layer": 2,
    "n_positions": 24,
    "resid_pdrop": 0.1,
    "summary_type": "cls_index",
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
    "use_cache": True,
    "vocab_size": 50,
}
B, T, PROMPT, NEW = 2, 12, 4, 10


def folder(name, config):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    return d


def weights(stored):
    """The bare GPT-2 weights of a read-back state dict: prefix dropped,
    buffers and the lm_head copy left out."""
    out = {}
    for k, v in stored.items():
        k = k.removeprefix("transformer.")
        if k == "lm_head.weight" or k.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        out[k] = v
    return out


def greedy(p, prompt, c):
    seq = prompt.clone()
    for _ in range(NEW):
        nxt = forward(p, seq, c)[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    return seq[:, prompt.shape[1]:]


def inputs():
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, CONFIG["vocab_size"], (B, T), generator=g)
    prompt = torch.randint(0, CONFIG["vocab_size"], (1, PROMPT), generator=g)
    return ids, prompt


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    c = CONFIG
    # nanoGPT's init scaled up 10x: at 0.02 the logits of a tiny model are
    # nearly flat and greedy decoding repeats one token.
    p32 = {k: 10 * v if v.dim() == 2 else v for k, v in init_params(c).items()}
    P, L = c["n_positions"], c["n_layer"]
    ids, prompt = inputs()
    ref = {"input.ids": ids, "input.prompt": prompt}

    def reference(tag, path):
        p = weights(read_model(path))
        if set(p) != set(p32):
            raise SystemExit(f"{path}: stored names {sorted(set(p) ^ set(p32))} differ")
        with torch.no_grad():
            ref[f"{tag}.logits"] = forward(p, ids, c)
            ref[f"{tag}.greedy"] = greedy(p, prompt, c)

    # F32, GPT2LMHeadModel's state dict: prefix, mask buffers, tied lm_head copy.
    full = {"transformer." + k: v for k, v in p32.items()}
    for i in range(L):
        full[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
        full[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    full["lm_head.weight"] = p32["wte.weight"]
    d = folder("gpt2-tiny", c)
    write_model(os.path.join(d, "model.safetensors"), full, torch.float32)
    reference("f32", os.path.join(d, "model.safetensors"))

    # Sharded, GPT-2's own names (no prefix, no lm_head).
    d = folder("gpt2-tiny-sharded", c)
    names = sorted(p32)
    first = [n for n in names if n.startswith(("wte.", "wpe.", "h.0."))]
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": [n for n in names if n not in first]}
    total, weight_map = 0, {}
    for fn, ns in shards.items():
        total += write_model(os.path.join(d, fn), {n: p32[n] for n in ns}, torch.float32)
        weight_map.update({n: fn for n in ns})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")

    d = folder("gpt2-tiny-f16", dict(c, torch_dtype="float16"))
    write_model(os.path.join(d, "model.safetensors"), {"transformer." + k: v for k, v in p32.items()}, torch.float16)
    reference("f16", os.path.join(d, "model.safetensors"))

    d = folder("gpt2-tiny-bf16", dict(c, torch_dtype="bfloat16", architectures=["GPT2Model"]))
    write_model(os.path.join(d, "model.safetensors"), p32, torch.bfloat16)
    reference("bf16", os.path.join(d, "model.safetensors"))

    # Attention logits of layer i also divided by i+1 (HF's
    # scale_attn_by_inverse_layer_idx, as Stanford's Mistral GPT-2s have it;
    # reorder_and_upcast_attn, which they set too, changes only rounding).
    cl = dict(c, torch_dtype="float16", scale_attn_by_inverse_layer_idx=True, reorder_and_upcast_attn=True)
    d = folder("gpt2-tiny-layerscale", cl)
    write_model(os.path.join(d, "model.safetensors"), p32, torch.float16)
    with torch.no_grad():
        ref["layerscale.logits"] = forward(weights(read_model(os.path.join(d, "model.safetensors"))), ids, cl)

    # Corrupted copies (F16 keeps them small).
    c16 = dict(c, torch_dtype="float16")
    d = folder("gpt2-tiny-wrong-shape", c16)
    write_model(os.path.join(d, "model.safetensors"), dict(p32, **{"h.1.mlp.c_fc.weight": p32["h.1.mlp.c_fc.weight"].t()}), torch.float16)
    d = folder("gpt2-tiny-missing", c16)
    write_model(os.path.join(d, "model.safetensors"), {k: v for k, v in p32.items() if k != "h.1.ln_2.bias"}, torch.float16)
    d = folder("gpt2-tiny-untied", c16)
    write_model(os.path.join(d, "model.safetensors"), dict(p32, **{"lm_head.weight": p32["wte.weight"] + 0.01}), torch.float16)

    tensors = {k: to_storage(v) for k, v in ref.items()}
    meta = {
        "case": "tiny GPT-2 (HF GPT2LMHeadModel semantics): logits and greedy tokens",
        "torch": torch.__version__,
        "config": json.dumps({"batch": B, "seq_len": T, "prompt": PROMPT, "new_tokens": NEW}, sort_keys=True),
        "compute_dtype": "float64",
        "seed": str(SEED),
        "generator": "tools/golden/torch_gpt2_hf.py",
    }
    path = os.path.join(OUT, "gpt2-tiny", "reference.safetensors")
    write_safetensors(path, tensors, meta)
    back, bmeta = read_safetensors(path)
    if set(back) != set(tensors) or bmeta != meta:
        raise SystemExit(f"{path}: names or metadata differ after reading back")
    for root, _, files in sorted(os.walk(OUT)):
        for fn in sorted(files):
            if os.path.basename(root).startswith("gpt2-"):
                print(f"{os.path.join(root, fn):60s} {os.path.getsize(os.path.join(root, fn)):7d} bytes")
    for tag in ("f32", "f16", "bf16"):
        lg = ref[f"{tag}.logits"]
        top2 = lg.topk(2, dim=-1).values
        print(f"{tag}: logits |max| {lg.abs().max():.3f}, greedy {ref[tag + '.greedy'].tolist()}, "
              f"smallest top-2 margin {(top2[..., 0] - top2[..., 1]).min():.3g}")


def check_folder(d):
    """Load a GPT-2 folder (config.json, model.safetensors, e.g. one written
    by attn's gpt.Save) and compare it with the f32 references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    c = {k: cfg[k] for k in ("n_embd", "n_head", "n_layer", "layer_norm_epsilon", "vocab_size", "n_positions")}
    if cfg.get("model_type") != "gpt2" or cfg.get("activation_function", "gelu_new") != "gelu_new":
        raise SystemExit(f"{d}: not a gelu_new GPT-2 config")
    p = weights(read_model(os.path.join(d, "model.safetensors")))
    g, _ = read_safetensors(os.path.join(OUT, "gpt2-tiny", "reference.safetensors"))
    with torch.no_grad():
        logits = forward(p, g["input.ids"], c)
        toks = greedy(p, g["input.prompt"], c)
    err = (logits - g["f32.logits"].double()).abs().max().item()
    print(f"{d}: logits max abs error {err:.2e}, greedy {toks.tolist()} (want {g['f32.greedy'].tolist()})")
    if err > 1e-4 or not torch.equal(toks, g["f32.greedy"]):
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2])
    else:
        main()
