#!/usr/bin/env python3
"""Reference beam search in plain PyTorch, for decoding parity with attn.

It loads the encoder-decoder weights of testdata/torch/seq2seq_postln_relu
.safetensors (PyTorch names, nn.Transformer layout), decodes 20 random source
sentences with a deliberately simple beam search (one sentence at a time, the
whole decoder re-run on every prefix, no cache), and writes the chosen tokens
and scores to testdata/torch/beam_search.safetensors. The Go test
(generate/beam_parity_test.go) decodes the same sentences with attn's batched,
cached beam search and requires identical tokens.

The algorithm, as attn documents it (generate.Beam): per step, the 2k best
continuations (hypothesis, token) by total log-probability, ties to the lower
hypothesis index then token id; walking them best first, an EOS among the
first k finishes that hypothesis with score / ((5+len)/6)^alpha (len counts
the EOS), others become the next open hypotheses until k are open; a source is
done with k finished hypotheses or at max_len (where open ones are finished).

    /usr/bin/python3 tools/golden/torch_beam.py
"""
import json, math, os, sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from torch_transformer import read_safetensors, sinusoidal_pe, write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
BEAM, ALPHA, MAX_LEN, BOS, EOS, PAD = 4, 0.6, 10, 1, 2, 0


def load_model():
    tensors, meta = read_safetensors(os.path.join(ROOT, "testdata/torch/seq2seq_postln_relu.safetensors"))
    cfg = json.loads(meta["config"])
    d = cfg["d_model"]
    tr = nn.Transformer(d_model=d, nhead=cfg["nhead"], num_encoder_layers=cfg["num_encoder_layers"],
                        num_decoder_layers=cfg["num_decoder_layers"], dim_feedforward=cfg["dim_feedforward"],
                        dropout=0.0, activation=cfg["activation"], batch_first=True)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(cfg["src_vocab_size"], d)
            self.tgt_embed = nn.Embedding(cfg["tgt_vocab_size"], d)
            self.encoder, self.decoder = tr.encoder, tr.decoder
            self.generator = nn.Linear(d, cfg["tgt_vocab_size"])

    m = Seq2Seq()
    m.load_state_dict({k[len("param."):]: v.float() for k, v in tensors.items() if k.startswith("param.")})
    m.eval()
    return m, cfg, sinusoidal_pe(64, d).float()


@torch.no_grad()
def beam_search(m, cfg, pe, src):
    d = cfg["d_model"]
    s = torch.tensor([src])
    mem = m.encoder(m.src_embed(s) * math.sqrt(d) + pe[: len(src)])

    def next_logprobs(prefix):
        t = torch.tensor([prefix])
        x = m.tgt_embed(t) * math.sqrt(d) + pe[: len(prefix)]
        mask = nn.Transformer.generate_square_subsequent_mask(len(prefix))
        out = m.decoder(x, mem, tgt_mask=mask)
        return torch.log_softmax(m.generator(out)[0, -1].double(), -1)

    open_hyps = [([BOS], 0.0)]
    finished = []
    for step in range(1, MAX_LEN + 1):
        cands = []
        for h, (toks, score) in enumerate(open_hyps):
            lp = next_logprobs(toks)
            for tok in range(lp.shape[0]):
                cands.append((score + lp[tok].item(), h, tok))
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        cands = cands[: 2 * BEAM]
        new_open = []
        for rank, (score, h, tok) in enumerate(cands):
            if len(new_open) == BEAM:
                break
            if tok == EOS or step == MAX_LEN:
                if rank < BEAM:
                    toks = open_hyps[h][0][1:] + ([] if tok == EOS else [tok])
                    finished.append((toks, score / ((5 + step) / 6) ** ALPHA))
                continue
            new_open.append((open_hyps[h][0] + [tok], score))
        open_hyps = new_open
        if len(finished) >= BEAM or not open_hyps or step == MAX_LEN:
            break
    return max(finished, key=lambda f: f[1])


def main():
    torch.manual_seed(120)
    m, cfg, pe = load_model()
    srcs = []
    for _ in range(20):
        n = int(torch.randint(2, 7, ()).item())
        srcs.append(torch.randint(3, cfg["src_vocab_size"], (n,)).tolist())
    S = max(map(len, srcs))
    src = torch.full((20, S), PAD, dtype=torch.int64)
    tok = torch.full((20, MAX_LEN), -1, dtype=torch.int64)
    scores = torch.zeros(20, dtype=torch.float64)
    for i, s in enumerate(srcs):
        src[i, : len(s)] = torch.tensor(s)
        toks, score = beam_search(m, cfg, pe, s)
        tok[i, : len(toks)] = torch.tensor(toks, dtype=torch.int64)
        scores[i] = score
    write_safetensors(os.path.join(ROOT, "testdata/torch/beam_search.safetensors"),
                      {"input.src": src, "input.src_len": torch.tensor([len(s) for s in srcs]),
                       "output.tokens": tok, "output.score": scores.float()},
                      {"case": "reference beam search on seq2seq_postln_relu weights", "torch": torch.__version__,
                       "config": json.dumps({"beam": BEAM, "alpha": ALPHA, "max_len": MAX_LEN, "bos": BOS, "eos": EOS, "pad": PAD}),
                       "generator": "tools/golden/torch_beam.py"})
    print("wrote testdata/torch/beam_search.safetensors;", sum(1 for i in range(20) if (tok[i] >= 0).sum() < MAX_LEN), "of 20 ended with EOS before max_len")


if __name__ == "__main__":
    main()
