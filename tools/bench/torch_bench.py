#!/usr/bin/env python3
"""The workloads of `attn bench`, run in PyTorch on the same machine, printed
as the same JSON lines, so tools/bench/compare.sh can print ratios.

Run with Debian's python3-torch (1.13) and OpenBLAS (libopenblas0-openmp), and
with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (compare.sh does this) so that
OpenBLAS picks its AVX-512 kernels. The kernel OpenBLAS chose is printed.

    /usr/bin/python3 tools/bench/torch_bench.py gemm --m 1024 --n 1024 --k 1024
    /usr/bin/python3 tools/bench/torch_bench.py train --shape small
    /usr/bin/python3 tools/bench/torch_bench.py train-gpt
"""
import argparse, contextlib, ctypes, ctypes.util, json, math, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def malloc_setting():
    """How freed memory is treated: "kept" under cpu.sh's fair setting
    (glibc's malloc maps no block on its own and never trims its heap), the
    preloaded allocator, or "default"."""
    if os.environ.get("MALLOC_MMAP_MAX_") == "0" and "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return "kept"
    pre = os.environ.get("LD_PRELOAD", "")
    if "malloc" in pre:
        return os.path.basename(pre)
    return "default"


def openblas_core():
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas") or ""):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except OSError:
            continue
    return "openblas not found"


def aten_capability():
    """The vector instructions ATen's own kernels use (ATEN_CPU_CAPABILITY caps them)."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def measure(reps, fn):
    fn()  # warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def init_normal(std, *modules):
    """Draw the modules' weights as attn draws the same model's (HF's init:
    Linear, Conv2d and Embedding weights N(0, std^2), biases 0, LayerNorm 1
    and 0), so that both sides compute on the same values. PyTorch's module
    defaults (N(0, 1) embeddings, Kaiming-uniform layers) give other numbers,
    and in training some of them fall into denormals, which slowed PyTorch's
    steps by up to half (session 20): a comparison of speed must not be one
    of values."""
    with torch.no_grad():
        for mod in modules:
            for m in mod.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
                    nn.init.normal_(m.weight, std=std)
                    if getattr(m, "bias", None) is not None:
                        nn.init.zeros_(m.bias)


def matmul_bf16():
    """Whether to compute products in bfloat16, as attn does under
    ATTN_MATMUL=bf16: TORCH_MATMUL (bf16 or fp32) if set, else ATTN_MATMUL.
    PyTorch's way is autocast: float32 weights, products in bfloat16."""
    v = os.environ.get("TORCH_MATMUL") or os.environ.get("ATTN_MATMUL") or "fp32"
    if v not in ("fp32", "bf16"):
        sys.exit(f"TORCH_MATMUL/ATTN_MATMUL={v!r}: want fp32 or bf16")
    return v == "bf16"


def autocast():
    """The context the forward pass runs in: autocast to bfloat16 or nothing."""
    if matmul_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def bench_gemm(a):
    x, y = torch.randn(a.m, a.k), torch.randn(a.k, a.n)
    out = torch.empty(a.m, a.n)
    if matmul_bf16():  # operands converted in each run, as attn packs them
        def mm():
            with autocast():
                return torch.mm(x, y)
        d = measure(a.reps, mm)
    else:
        d = measure(a.reps, lambda: torch.mm(x, y, out=out))
    return {"bench": "gemm", "params": {"m": a.m, "n": a.n, "k": a.k}, "ms": d * 1e3, "gflops": 2 * a.m * a.n * a.k / d / 1e9}


def bench_attention(a):
    # Explicit attention: scores, causal mask, softmax, weighted sum.
    shape = (a.batch, a.heads, a.t, a.d_head)
    q, k, v = (torch.randn(*shape, requires_grad=True) for _ in range(3))
    mask = torch.full((a.t, a.t), float("-inf")).triu(1)
    proj = torch.randn(*shape)

    def step():
        s = q @ k.transpose(-1, -2) / math.sqrt(a.d_head) + mask
        y = s.softmax(-1) @ v
        (y * proj).sum().backward()
    d = measure(a.reps, step)
    flops = a.batch * a.heads * (4 * a.t * a.t * a.d_head + 8 * a.t * a.t * a.d_head) / 2
    return {"bench": "attention", "params": {"batch": a.batch, "heads": a.heads, "t": a.t, "d_head": a.d_head, "causal": True},
            "ms": d * 1e3, "gflops": flops / d / 1e9}


class Seq2Seq(nn.Module):
    """nn.Transformer with separate embeddings (scaled by sqrt(d)), sinusoidal
    positions and an untied output Linear: issue 3's training benchmark."""

    def __init__(self, d, h, layers, dff, vocab):
        super().__init__()
        self.d = d
        self.src, self.tgt = nn.Embedding(vocab, d), nn.Embedding(vocab, d)
        self.tr = nn.Transformer(d, h, layers, layers, dff, dropout=0.1, batch_first=True)
        self.out = nn.Linear(d, vocab)
        # attn's initialisation (model/transformer.New), so that both sides
        # train the same model and compare.sh's losses can be compared:
        # embeddings N(0, 1/d) (unit variance after the sqrt(d) scale), every
        # Linear PyTorch's own default U(+-1/sqrt(in)) (nn.Transformer re-draws
        # them Xavier-uniform), attention's out_proj bias 0; in_proj stays
        # Xavier-uniform with zero biases, as both draw it. The time a step
        # takes does not depend on the values.
        with torch.no_grad():
            for e in (self.src, self.tgt):
                nn.init.normal_(e.weight, std=d ** -0.5)
            for m in self.tr.modules():
                if isinstance(m, nn.Linear):
                    m.reset_parameters()
                elif isinstance(m, nn.MultiheadAttention):
                    nn.init.zeros_(m.out_proj.bias)
        pos = torch.arange(512).unsqueeze(1)
        div = torch.pow(10000.0, torch.arange(0, d, 2) / d)
        pe = torch.zeros(512, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos / div), torch.cos(pos / div)
        self.register_buffer("pe", pe)

    def forward(self, src, tgt):
        s = self.src(src) * math.sqrt(self.d) + self.pe[: src.shape[1]]
        t = self.tgt(tgt) * math.sqrt(self.d) + self.pe[: tgt.shape[1]]
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        return self.out(self.tr(s, t, tgt_mask=mask))


def bench_train(a):
    d, h, layers, dff, batch = (256, 4, 3, 1024, 32) if a.shape == "small" else (512, 8, 6, 2048, 16)
    vocab, T = 8000, 32
    m = Seq2Seq(d, h, layers, dff, vocab).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    src, tgt, out = (torch.randint(1, vocab, (batch, T)) for _ in range(3))

    losses = []  # every step's, the warm-up's first, as attn bench reports them

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            logits = m(src, tgt)
            loss = F.cross_entropy(logits.reshape(-1, vocab).float(), out.reshape(-1), ignore_index=0, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    dur = measure(a.reps, step)
    return {"bench": "train", "params": {"shape": a.shape, "batch": batch, "seq_len": T, "d_model": d, "layers": layers},
            "ms": dur * 1e3, "tokens_per_s": 2 * batch * T / dur, "losses": losses}


class GPT(nn.Module):
    """nanoGPT's model (GPT-2 architecture, tied head, GELU tanh)."""

    def __init__(self, vocab, block, c, layers, heads):
        super().__init__()
        self.heads = heads
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(block, c)
        self.h = nn.ModuleList(nn.ModuleDict(dict(
            ln_1=nn.LayerNorm(c), c_attn=nn.Linear(c, 3 * c), c_proj=nn.Linear(c, c),
            ln_2=nn.LayerNorm(c), c_fc=nn.Linear(c, 4 * c), m_proj=nn.Linear(4 * c, c))) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        # nanoGPT's initialisation, which attn's GPT uses too: N(0, 0.02²)
        # for every matrix and embedding, N(0, (0.02/sqrt(2·layers))²) for
        # the projections into the residual stream, zero biases.
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    nn.init.zeros_(p)
                elif p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * layers) if name.endswith(("c_proj.weight", "m_proj.weight")) else 0.02
                    nn.init.normal_(p, std=std)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        mask = torch.full((T, T), float("-inf")).triu(1)
        for b in self.h:
            q, k, v = b["c_attn"](b["ln_1"](x)).split(x.shape[-1], dim=2)
            q, k, v = (z.view(B, T, self.heads, -1).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + mask).softmax(-1)
            x = x + b["c_proj"]((att @ v).transpose(1, 2).reshape(B, T, -1))
            x = x + b["m_proj"](F.gelu(b["c_fc"](b["ln_2"](x)), approximate="tanh"))
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def bench_train_gpt(a):
    # nanoGPT's baby GPT: 4 layers, 4 heads, 128 wide, block 64, batch 12, dropout 0;
    # or (--preset gpt2) GPT-2 small's shape, 16 windows of 128 tokens: a step of
    # fine-tuning it on a text, as attn train --model runs it (without dropout).
    vocab, block, c, layers, heads, batch = 65, 64, 128, 4, 4, 12
    if a.preset == "gpt2":
        vocab, block, c, layers, heads, batch = 50257, 128, 768, 12, 12, 16
    m = GPT(vocab, block, c, layers, heads).train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    idx = torch.randint(0, vocab, (batch, block))

    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        loss = m(idx, idx)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    dur = measure(a.reps, step)
    return {"bench": "train-gpt", "params": {"preset": a.preset, "batch": batch, "context": block, "n_embd": c, "n_layer": layers},
            "ms": dur * 1e3, "tokens_per_s": batch * block / dur, "losses": losses}


def bench_vit(a, train=False):
    # ViT-B/16 at 224 pixels, HF's ViTForImageClassification forward (eager
    # attention), random weights, 1,000 labels, inference mode.
    C, L, H, I, P, S, labels = 768, 12, 12, 3072, 16, 224, 1000
    n, T = (S // P) ** 2, (S // P) ** 2 + 1
    lin = lambda i, o: nn.Linear(i, o)
    layers = nn.ModuleList(nn.ModuleDict(dict(
        ln1=nn.LayerNorm(C, eps=1e-12), q=lin(C, C), k=lin(C, C), v=lin(C, C), o=lin(C, C),
        ln2=nn.LayerNorm(C, eps=1e-12), fc1=lin(C, I), fc2=lin(I, C))) for _ in range(L))
    proj, ln, head = nn.Conv2d(3, C, P, stride=P), nn.LayerNorm(C, eps=1e-12), lin(C, labels)
    init_normal(0.02, layers, proj, ln, head)
    cls, pos = torch.randn(1, 1, C) * 0.02, torch.randn(1, T, C) * 0.02
    px = torch.randn(a.batch, 3, S, S)

    def forward():
        B = px.shape[0]
        x = torch.cat([cls.expand(B, -1, -1), proj(px).flatten(2).transpose(1, 2)], 1) + pos
        for l in layers:
            h = l["ln1"](x)
            q, k, v = (l[z](h).view(B, T, H, -1).transpose(1, 2) for z in ("q", "k", "v"))
            att = (q @ k.transpose(-1, -2) / math.sqrt(C // H)).softmax(-1)
            x = x + l["o"]((att @ v).transpose(1, 2).reshape(B, T, C))
            x = x + l["fc2"](F.gelu(l["fc1"](l["ln2"](x))))
        return head(ln(x)[:, 0])

    flops = 2 * a.batch * (n * 3 * P * P * C + L * (T * (4 * C * C + 2 * C * I) + 2 * T * T * C) + labels * C)
    if train:  # a fine-tuning step: forward, cross-entropy, backward, AdamW
        params = [p for mod in (layers, proj, ln, head) for p in mod.parameters()]
        for t in (cls, pos):
            t.requires_grad_(True)
            params.append(t)
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)
        target = torch.randint(0, labels, (a.batch,))

        losses = []

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(forward(), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        dur = measure(a.reps, step)
        return {"bench": "train-vit", "params": {"model": "vit-base-patch16-224", "batch": a.batch, "images_per_s": a.batch / dur},
                "ms": dur * 1e3, "gflops": 3 * flops / dur / 1e9, "losses": losses}
    with torch.inference_mode():
        dur = measure(a.reps, forward)
    return {"bench": "vit", "params": {"model": "vit-base-patch16-224", "batch": a.batch, "images_per_s": a.batch / dur},
            "ms": dur * 1e3, "gflops": flops / dur / 1e9}


def bench_clip(a):
    # CLIP ViT-B/32 (HF's CLIPModel get_image_features and get_text_features,
    # eager attention, quick GELU), random weights, inference mode: b images
    # of 224 pixels and b captions of 77 tokens, what attn bench clip runs.
    B, T = a.batch, 77

    def tower(C, L, I):
        return nn.ModuleList(nn.ModuleDict(dict(
            ln1=nn.LayerNorm(C), q=nn.Linear(C, C), k=nn.Linear(C, C), v=nn.Linear(C, C), o=nn.Linear(C, C),
            ln2=nn.LayerNorm(C), fc1=nn.Linear(C, I), fc2=nn.Linear(I, C))) for _ in range(L))

    def run(layers, x, H, causal):
        Bn, Tn, C = x.shape
        mask = torch.full((Tn, Tn), float("-inf")).triu(1) if causal else None
        for l in layers:
            h = l["ln1"](x)
            q, k, v = (l[z](h).view(Bn, Tn, H, -1).transpose(1, 2) for z in ("q", "k", "v"))
            s = q @ k.transpose(-1, -2) / math.sqrt(C // H)
            if mask is not None:
                s = s + mask
            x = x + l["o"]((s.softmax(-1) @ v).transpose(1, 2).reshape(Bn, Tn, C))
            h = l["fc1"](l["ln2"](x))
            x = x + l["fc2"](h * torch.sigmoid(1.702 * h))
        return x

    Cv, Ct, P, S, D = 768, 512, 32, 224, 512
    vis, txt = tower(Cv, 12, 3072), tower(Ct, 12, 2048)
    patch = nn.Conv2d(3, Cv, P, stride=P, bias=False)
    cls, vpos = torch.randn(Cv) * 0.02, torch.randn((S // P) ** 2 + 1, Cv) * 0.02
    pre, post, vproj = nn.LayerNorm(Cv), nn.LayerNorm(Cv), nn.Linear(Cv, D, bias=False)
    tok, tpos, final, tproj = nn.Embedding(49408, Ct), torch.randn(T, Ct) * 0.02, nn.LayerNorm(Ct), nn.Linear(Ct, D, bias=False)
    init_normal(0.02, vis, txt, patch, vproj, tok, tproj)
    px, ids = torch.randn(B, 3, S, S), torch.randint(1000, 41000, (B, T))

    def forward():
        x = torch.cat([cls.expand(B, 1, -1), patch(px).flatten(2).transpose(1, 2)], 1) + vpos
        img = vproj(post(run(vis, pre(x), 12, False)[:, 0]))
        h = final(run(txt, tok(ids) + tpos, 8, True))
        return img, tproj(h[torch.arange(B), ids.argmax(-1)])

    n = (S // P) ** 2 + 1
    layer = lambda C, I, t: t * (4 * C * C + 2 * C * I) + 2 * t * t * C
    flops = 2 * B * ((n - 1) * 3 * P * P * Cv + 12 * layer(Cv, 3072, n) + 12 * layer(Ct, 2048, T) + D * (Cv + Ct))
    with torch.inference_mode():
        dur = measure(a.reps, forward)
    return {"bench": "clip", "params": {"model": "clip-vit-base-patch32", "batch": B, "seq_len": T, "pairs_per_s": B / dur},
            "ms": dur * 1e3, "gflops": flops / dur / 1e9}


def bench_encode_modern(a, train=False):
    # ModernBERT-base (HF's ModernBertModel forward as its eager path runs
    # it: 22 pre-LN layers of 768, bias-free LayerNorms and linears, fused
    # Wqkv, rotary positions with base 160000 in every third layer and
    # 10000 in the others, which attend within 64 positions either side;
    # the GeGLU of 1152; final_norm), random weights, inference mode: what
    # attn bench encode --preset modernbert runs. With train, a
    # ModernBertForSequenceClassification step (cls pooling, the head, a
    # two-way classifier, no dropout: ModernBERT's are 0), backward, AdamW.
    C, L, H, I, V, T, B, W = 768, 22, 12, 1152, 50368, a.t, a.batch, 64
    D = C // H
    ln = lambda: nn.LayerNorm(C, eps=1e-5, elementwise_affine=True)
    emb, emb_norm, final = nn.Embedding(V, C), ln(), ln()
    for n in (emb_norm, final):
        n.bias = None
    layers = nn.ModuleList(nn.ModuleDict(dict(
        n1=ln(), qkv=nn.Linear(C, 3 * C, bias=False), o=nn.Linear(C, C, bias=False), n2=ln(),
        wi=nn.Linear(C, 2 * I, bias=False), wo=nn.Linear(I, C, bias=False))) for _ in range(L))
    for l in layers:
        l["n1"].bias = l["n2"].bias = None
    dense, head_norm, classifier = nn.Linear(C, C, bias=False), ln(), nn.Linear(C, 2)
    head_norm.bias = None
    init_normal(0.02, emb, layers, dense, classifier)
    with torch.no_grad():  # attn's (and HF's) output projections: std / sqrt(2 * layers)
        for l in layers:
            for z in ("o", "wo"):
                nn.init.normal_(l[z].weight, std=0.02 / math.sqrt(2 * L))
    ids = torch.randint(1000, 41000, (B, T))
    pos = torch.arange(T)
    local_mask = torch.zeros(T, T).masked_fill((pos[:, None] - pos[None, :]).abs() > W, float("-inf"))

    def rotary(theta):
        inv = 1.0 / (theta ** (torch.arange(0, D, 2).float() / D))
        ang = pos[:, None].float() * inv[None, :]
        emb2 = torch.cat((ang, ang), dim=-1)
        return emb2.cos(), emb2.sin()
    rot = {True: rotary(10000.0), False: rotary(160000.0)}

    def rotate(x, cs):
        h = x.shape[-1] // 2
        return x * cs[0] + torch.cat((-x[..., h:], x[..., :h]), dim=-1) * cs[1]

    def forward():
        x = emb_norm(emb(ids))
        for i, l in enumerate(layers):
            local = i % 3 != 0
            h = x if i == 0 else l["n1"](x)
            q, k, v = l["qkv"](h).view(B, T, 3, H, D).unbind(2)
            q, k, v = (z.transpose(1, 2) for z in (q, k, v))
            q, k = rotate(q, rot[local]), rotate(k, rot[local])
            s = q @ k.transpose(-1, -2) / math.sqrt(D)
            if local:
                s = s + local_mask
            x = x + l["o"]((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C))
            inp, gate = l["wi"](l["n2"](x)).chunk(2, dim=-1)
            x = x + l["wo"](F.gelu(inp) * gate)
        return final(x)

    flops = 2 * B * L * T * (4 * C * C + 3 * C * I) + 4 * B * L * T * T * C
    params = {"model": "modernbert-base", "batch": B, "seq_len": T}
    if train:
        ps = [q for mod in (emb, emb_norm, final, layers, dense, head_norm, classifier) for q in mod.parameters()]
        opt = torch.optim.AdamW(ps, lr=2e-5, weight_decay=0.01)
        target = torch.randint(0, 2, (B,))

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(classifier(head_norm(F.gelu(dense(forward()[:, 0])))), target).backward()
            opt.step()
        dur = measure(a.reps, step)
        return {"bench": "train-bert", "params": params, "ms": dur * 1e3, "gflops": 3 * flops / dur / 1e9, "tokens_per_s": B * T / dur}
    with torch.inference_mode():
        dur = measure(a.reps, forward)
    return {"bench": "encode", "params": params, "ms": dur * 1e3, "gflops": flops / dur / 1e9, "tokens_per_s": B * T / dur}


def bench_encode(a, train=False):
    if a.preset == "modernbert":
        return bench_encode_modern(a, train)
    # BERT-base (HF's BertModel forward, eager attention, no padding mask),
    # random weights, inference mode: what attn bench encode runs. With
    # train, a BertForSequenceClassification fine-tuning step as attn bench
    # train-bert runs it: dropout 0.1 where HF has it, the pooler and a
    # two-way classifier, cross-entropy, backward, AdamW.
    C, L, H, I, V, T, B = 768, 12, 12, 3072, 30522, a.t, a.batch
    emb = nn.ModuleDict(dict(word=nn.Embedding(V, C), pos=nn.Embedding(512, C), typ=nn.Embedding(2, C), ln=nn.LayerNorm(C, eps=1e-12)))
    layers = nn.ModuleList(nn.ModuleDict(dict(
        q=nn.Linear(C, C), k=nn.Linear(C, C), v=nn.Linear(C, C), o=nn.Linear(C, C), ln1=nn.LayerNorm(C, eps=1e-12),
        fc1=nn.Linear(C, I), fc2=nn.Linear(I, C), ln2=nn.LayerNorm(C, eps=1e-12))) for _ in range(L))
    pooler, classifier = nn.Linear(C, C), nn.Linear(C, 2)
    init_normal(0.02, emb, layers, pooler, classifier)
    ids = torch.randint(1000, 21000, (B, T))
    p = 0.1 if train else 0.0
    drop = lambda x: F.dropout(x, p, training=train)

    def forward():
        x = drop(emb["ln"](emb["word"](ids) + emb["pos"](torch.arange(T)) + emb["typ"](torch.zeros_like(ids))))
        for l in layers:
            q, k, v = (l[z](x).view(B, T, H, -1).transpose(1, 2) for z in ("q", "k", "v"))
            att = drop((q @ k.transpose(-1, -2) / math.sqrt(C // H)).softmax(-1))
            x = l["ln1"](x + drop(l["o"]((att @ v).transpose(1, 2).reshape(B, T, C))))
            x = l["ln2"](x + drop(l["fc2"](F.gelu(l["fc1"](x)))))
        return x, torch.tanh(pooler(x[:, 0]))

    flops = 2 * B * L * (T * (4 * C * C + 2 * C * I) + 2 * T * T * C)
    if train:
        params = [q for mod in (emb, layers, pooler, classifier) for q in mod.parameters()]
        opt = torch.optim.AdamW(params, lr=2e-5, weight_decay=0.01)
        target = torch.randint(0, 2, (B,))

        losses = []

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(classifier(drop(forward()[1])), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        dur = measure(a.reps, step)
        return {"bench": "train-bert", "params": {"model": "bert-base", "batch": B, "seq_len": T},
                "ms": dur * 1e3, "gflops": 3 * flops / dur / 1e9, "tokens_per_s": B * T / dur, "losses": losses}
    with torch.inference_mode():
        dur = measure(a.reps, forward)
    return {"bench": "encode", "params": {"model": "bert-base", "batch": B, "seq_len": T},
            "ms": dur * 1e3, "gflops": flops / dur / 1e9, "tokens_per_s": B * T / dur}


def t5_bucket(rel, bidirectional, num_buckets=32, max_distance=128):
    """T5's relative position bucket (HF's _relative_position_bucket)."""
    bucket = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        bucket = (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.clamp(rel, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(rel.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return bucket + torch.where(rel < exact, rel, large)


def bench_train_t5(a):
    # A t5-small fine-tuning step as attn bench train-t5 runs it, after HF's
    # T5ForConditionalGeneration (eager): RMSNorm without bias, unscaled
    # attention logits with relative position buckets (the first block's
    # table, shared), ReLU feed-forward, dropout 0.1 where HF has it, the
    # tied head scaled by d_model^-0.5; random pairs of --t source and --t
    # target tokens, cross-entropy, backward, AdamW (lr 3e-4).
    C, F_, H, L, V, T, B = 512, 2048, 8, 6, 32128, a.t, a.batch
    drop = lambda x: F.dropout(x, 0.1, training=True)
    lin = lambda i, o: nn.Linear(i, o, bias=False)

    def block(cross):
        d = dict(q=lin(C, C), k=lin(C, C), v=lin(C, C), o=lin(C, C), fc1=lin(C, F_), fc2=lin(F_, C))
        if cross:
            d.update(cq=lin(C, C), ck=lin(C, C), cv=lin(C, C), co=lin(C, C))
        return nn.ModuleDict(d)
    shared = nn.Embedding(V, C)
    enc, dec = nn.ModuleList(block(False) for _ in range(L)), nn.ModuleList(block(True) for _ in range(L))
    norms = nn.ParameterList(nn.Parameter(torch.ones(C)) for _ in range(5 * L + 2))
    enc_bias, dec_bias = nn.Embedding(32, H), nn.Embedding(32, H)
    with torch.no_grad():  # HF's T5 init (factor 1), as attn draws it; the shared embedding stays N(0, 1)
        for l in list(enc) + list(dec):
            for z, w in l.items():
                fan = {"q": C * (C // H), "cq": C * (C // H), "fc2": F_}.get(z, C)
                nn.init.normal_(w.weight, std=fan ** -0.5)
        for e in (enc_bias, dec_bias):
            nn.init.normal_(e.weight, std=C ** -0.5)
    pos = torch.arange(T)
    rel = pos[None, :] - pos[:, None]
    enc_buckets, dec_buckets = t5_bucket(rel, True), t5_bucket(rel, False)
    causal = torch.full((T, T), float("-inf")).triu(1)

    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))

    def attend(l, p, x, kv, bias):
        q, k, v = (l[p + z](y).view(B, -1, H, C // H).transpose(1, 2) for z, y in (("q", x), ("k", kv), ("v", kv)))
        w = drop((q @ k.transpose(-1, -2) + bias).softmax(-1))
        return l[p + "o"]((w @ v).transpose(1, 2).reshape(B, -1, C))

    def ff(l, x):
        return l["fc2"](drop(torch.relu(l["fc1"](x))))

    src = torch.randint(2, V, (B, T))
    tgt = torch.randint(2, V, (B, T))
    tgt_in = torch.cat([torch.zeros(B, 1, dtype=torch.long), tgt[:, :-1]], 1)
    params = [p for mod in (shared, enc, dec, norms, enc_bias, dec_bias) for p in mod.parameters()]
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.01)
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        n = iter(norms)
        eb = enc_bias(enc_buckets).permute(2, 0, 1)[None]
        h = drop(shared(src))
        for l in enc:
            x = rms(h, next(n))
            h = h + drop(attend(l, "", x, x, eb))
            h = h + drop(ff(l, rms(h, next(n))))
        mem = drop(rms(h, next(n)))
        db = dec_bias(dec_buckets).permute(2, 0, 1)[None] + causal
        h = drop(shared(tgt_in))
        for l in dec:
            x = rms(h, next(n))
            h = h + drop(attend(l, "", x, x, db))
            h = h + drop(attend(l, "c", rms(h, next(n)), mem, 0))
            h = h + drop(ff(l, rms(h, next(n))))
        h = drop(rms(h, next(n))) * C ** -0.5
        loss = F.cross_entropy((h @ shared.weight.t()).view(-1, V), tgt.view(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    d, f = C, F_
    flops = 3 * 2 * B * (T * (L * (4 * d * d + 2 * d * f) + L * (8 * d * d + 2 * d * f) + d * V) + 3 * L * 2 * T * T * d)  # attention: 2·T²·d multiply-adds a layer
    dur = measure(a.reps, step)
    return {"bench": "train-t5", "params": {"model": "t5-small", "batch": B, "seq_len": T},
            "ms": dur * 1e3, "gflops": flops / dur / 1e9, "tokens_per_s": 2 * B * T / dur, "losses": losses}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bench", choices=["gemm", "attention", "train", "train-gpt", "vit", "train-vit", "clip", "encode", "train-bert", "train-t5"])
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--t", type=int, default=1024)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--d-head", type=int, default=64)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--shape", default="small", choices=["small", "base"])
    p.add_argument("--preset", default="baby-gpt", choices=["baby-gpt", "gpt2", "modernbert"])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    r = {"gemm": bench_gemm, "attention": bench_attention, "train": bench_train, "train-gpt": bench_train_gpt, "vit": bench_vit,
         "train-vit": lambda a: bench_vit(a, train=True), "clip": bench_clip, "encode": bench_encode,
         "train-bert": lambda a: bench_encode(a, train=True), "train-t5": bench_train_t5}[a.bench](a)
    r["params"]["threads"] = torch.get_num_threads()
    r["params"]["openblas"] = openblas_core()
    r["params"]["malloc"] = malloc_setting()
    r["params"]["aten"] = aten_capability()
    r["params"]["matmul"] = "bf16" if matmul_bf16() else "fp32"
    print(json.dumps(r))


if __name__ == "__main__":
    main()
