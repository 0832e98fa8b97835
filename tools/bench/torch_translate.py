#!/usr/bin/env python3
"""Translation throughput of a reference beam search in PyTorch, on a model
trained by attn (`attn train --preset multi30k-de-en`), for the side-by-side
in BENCHMARKS.md.

The model folder's weights carry PyTorch's names, so they load into
nn.TransformerEncoder/Decoder plus embeddings and a generator. Source token
ids come from `attn tokenize --no-special` (one JSON line {"ids": [...]} per
sentence). The beam search is the straightforward one of
tools/golden/torch_beam.py (beam 4, alpha 0.6, one sentence at a time, the
decoder re-run on every prefix). It prints sentences/s and writes the chosen
token ids, one JSON list per line, so they can be compared with attn's.

    env -u OPENBLAS_CORETYPE OPENBLAS_CORETYPE=SkylakeX MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
        /usr/bin/python3 tools/bench/torch_translate.py MODEL_DIR IDS.jsonl OUT.jsonl [N]

(the malloc settings are PyTorch's fair setting here: see tools/bench/cpu.sh)
"""
import json, math, os, sys, time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "golden"))
from torch_transformer import read_safetensors, sinusoidal_pe  # noqa: E402

BEAM, ALPHA, BOS, EOS = 4, 0.6, 1, 2


def load(dirname):
    cfg = json.load(open(os.path.join(dirname, "config.json")))
    assert not cfg["norm_first"] and not cfg["final_norm"] and cfg["tie_output"] and cfg["share_embeddings"]
    d = cfg["d_model"]
    enc = nn.TransformerEncoderLayer(d, cfg["heads"], cfg["d_ff"], 0.0, cfg["activation"], batch_first=True)
    dec = nn.TransformerDecoderLayer(d, cfg["heads"], cfg["d_ff"], 0.0, cfg["activation"], batch_first=True)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(cfg["src_vocab"], d)
            self.encoder = nn.TransformerEncoder(enc, cfg["encoder_layers"], enable_nested_tensor=False)
            self.decoder = nn.TransformerDecoder(dec, cfg["decoder_layers"])
            self.generator = nn.Linear(d, cfg["tgt_vocab"])

    m = Seq2Seq()
    tensors, _ = read_safetensors(os.path.join(dirname, "model.safetensors"))
    missing, unexpected = m.load_state_dict({k: v.float() for k, v in tensors.items() if k != "tgt_embed.weight"}, strict=False)
    assert set(missing) <= {"generator.weight"} and not unexpected, (missing, unexpected)
    m.generator.weight = m.src_embed.weight  # tied, stored once
    return m.eval(), cfg, sinusoidal_pe(cfg["max_len"], d).float()


@torch.no_grad()
def beam_search(m, cfg, pe, src, max_len):
    d = cfg["d_model"]
    mem = m.encoder(m.src_embed(torch.tensor([src])) * math.sqrt(d) + pe[: len(src)])

    def next_logprobs(prefix):
        x = m.src_embed(torch.tensor([prefix])) * math.sqrt(d) + pe[: len(prefix)]
        out = m.decoder(x, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(len(prefix)))
        return torch.log_softmax(m.generator(out)[0, -1].double(), -1)

    open_hyps, finished = [([BOS], 0.0)], []
    for step in range(1, max_len + 1):
        cands = []
        for h, (toks, score) in enumerate(open_hyps):
            lp = next_logprobs(toks)
            top = torch.topk(lp, 2 * BEAM)
            cands += [(score + v.item(), h, i.item()) for v, i in zip(top.values, top.indices)]
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        cands, new_open = cands[: 2 * BEAM], []
        for rank, (score, h, tok) in enumerate(cands):
            if len(new_open) == BEAM:
                break
            if tok == EOS or step == max_len:
                if rank < BEAM:
                    finished.append((open_hyps[h][0][1:] + ([] if tok == EOS else [tok]), score / ((5 + step) / 6) ** ALPHA))
                continue
            new_open.append((open_hyps[h][0] + [tok], score))
        open_hyps = new_open
        if len(finished) >= BEAM or not open_hyps:
            break
    return max(finished, key=lambda f: f[1])[0]


def main():
    model_dir, ids_path, out_path = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else None
    torch.set_num_threads(os.cpu_count())
    m, cfg, pe = load(model_dir)
    srcs = [json.loads(l)["ids"] for l in open(ids_path)][:n]
    t0 = time.perf_counter()
    outs = [beam_search(m, cfg, pe, s, min(len(s) + 50, cfg["max_len"] - 1)) for s in srcs]
    dt = time.perf_counter() - t0
    with open(out_path, "w") as f:
        for o in outs:
            f.write(json.dumps(o) + "\n")
    print(json.dumps({"bench": "translate", "sentences": len(srcs), "seconds": dt, "sentences_per_s": len(srcs) / dt, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
