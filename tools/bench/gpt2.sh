#!/usr/bin/env bash
# GPT-2 small (124M, random weights) inference in attn and in PyTorch, one
# after the other in the same session: checkpoint load (the first of the
# process, and the median of those after it), a 128-token prompt,
# and decoding one token with 16 and 1,000 tokens cached, and one token for
# each of 8 sequences with 128 cached, decoded together. Prints the medians
# and the median of the per-round ratios (> 1: attn is faster).
#
#   tools/bench/gpt2.sh [DIR]       # DIR (default /tmp/attn-gpt2) gets the 500 MB folder
#   ROUNDS=5 tools/bench/gpt2.sh    # rounds of attn then PyTorch (default 3)
#   CPU=avx2 tools/bench/gpt2.sh    # both sides held to AVX2
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-/tmp/attn-gpt2}
go build -o /tmp/attn-bench ./cmd/attn
. tools/bench/cpu.sh # core, and CPU=avx2
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${core[@]}" /usr/bin/python3 tools/bench/torch_gpt2.py "$@"; }
[ -f "$dir/model.pt" ] || py --write "$dir"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# ROUNDS rounds (default 3), attn then PyTorch in each: on a shared machine
# a single pair can be off by 20% or more, so the ratios are per round and
# the summary gives their median.
for r in $(seq "${ROUNDS:-3}"); do
  {
    /tmp/attn-bench bench load --model "$dir" --reps 5 --json
    /tmp/attn-bench bench prompt --model "$dir" --t 128 --reps 10 --json
    /tmp/attn-bench bench decode --model "$dir" --t 16 --reps 30 --json
    /tmp/attn-bench bench decode --model "$dir" --t 1000 --reps 30 --json
    /tmp/attn-bench bench decode --model "$dir" --t 128 --batch 8 --reps 30 --json
    py "$dir"
  } | sed "s/^{/{\"round\": $r, /" >> "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
key = lambda r: (r["bench"], r.get("cached", r.get("params", {}).get("cached")))
attn = {(r["round"],) + key(r): r for r in rows if "impl" not in r}
groups = {}
for r in rows:
    if "impl" in r:
        groups.setdefault(key(r), []).append((attn[(r["round"],) + key(r)], r))
med = statistics.median
for (bench, cached), pairs in groups.items():
    batch = pairs[0][1].get("batch", 1)
    what = bench + (f" ({cached} cached)" if cached else "") + (f" x{batch}" if batch > 1 else "")
    am, tm = med(a["ms"] for a, _ in pairs), med(t["ms"] for _, t in pairs)
    ratios = [t["ms"] / a["ms"] for a, t in pairs]
    n = 128 if bench == "prompt" else batch
    rate = f"  ({1e3 * n / am:.0f} vs {1e3 * n / tm:.0f} tokens/s)" if n > 1 else ""
    print(f"{what:20} attn {am:8.2f} ms   torch {tm:8.2f} ms   speed ratio {med(ratios):.2f} (rounds: {' '.join(f'{x:.2f}' for x in ratios)}){rate}")
    if bench == "load" and all("first_ms" in t and "first_ms" in a["params"] for a, t in pairs):
        # The first load of each process, memory faulted in fresh: what a user waits for.
        af, tf = med(a["params"]["first_ms"] for a, _ in pairs), med(t["first_ms"] for _, t in pairs)
        fr = [t["first_ms"] / a["params"]["first_ms"] for a, t in pairs]
        print(f"{'load, first':20} attn {af:8.2f} ms   torch {tf:8.2f} ms   speed ratio {med(fr):.2f} (rounds: {' '.join(f'{x:.2f}' for x in fr)})")
PY
