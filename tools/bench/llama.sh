#!/usr/bin/env bash
# A SmolLM2-135M-shaped Llama (random weights) in attn and in PyTorch, one
# after the other in the same session: checkpoint load, a 128-token prompt,
# decoding one token with 16 and 1,000 tokens cached, and a fine-tuning step
# (4 windows of 128 tokens: forward, backward, AdamW). Prints the medians
# and the median of the per-round ratios (> 1: attn is faster). With the
# preset gemma3-270m, a Gemma 3 270M-shaped model instead (PyTorch twin
# tools/bench/torch_gemma3.py), without the fine-tuning step; with
# qwen3-moe, a Qwen3-30B-A3B-shaped mixture of experts cut to 2 layers (3.7
# GB in BF16, and as much again for model.pt; tools/bench/torch_moe.py),
# without it too.
#
#   tools/bench/llama.sh [DIR]       # DIR (default /tmp/attn-llama) gets the 540 MB folder
#   tools/bench/llama.sh /tmp/attn-gemma3 gemma3-270m   # the 1.07 GB Gemma 3 folder
#   tools/bench/llama.sh /tmp/attn-qwen3moe qwen3-moe    # the Qwen3-MoE folder
#   ROUNDS=5 tools/bench/llama.sh    # rounds of attn then PyTorch (default 3)
#   CPU=avx2 tools/bench/llama.sh    # both sides held to AVX2
#
# The preset (smollm2-135m, the default, gemma3-270m or qwen3-moe) says what to write
# when DIR has no model.pt; an existing folder's config.json says which twin
# runs, so `tools/bench/llama.sh /tmp/attn-gemma3` reruns the Gemma folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-/tmp/attn-llama}
case ${2:-smollm2-135m} in
  smollm2-135m) twin=torch_llama.py ;;
  gemma3-270m) twin=torch_gemma3.py ;;
  qwen3-moe) twin=torch_moe.py ;;
  *) echo "llama.sh: preset $2 is not smollm2-135m, gemma3-270m or qwen3-moe" >&2; exit 2 ;;
esac
if [ -f "$dir/config.json" ]; then
  twin=torch_llama.py
  grep -q '"model_type": "gemma3_text"' "$dir/config.json" && twin=torch_gemma3.py
  grep -q '"model_type": "qwen3_moe"' "$dir/config.json" && twin=torch_moe.py
fi
tunes() { [ "$twin" = torch_llama.py ]; } # the twins with a fine-tuning step
go build -o /tmp/attn-bench ./cmd/attn
. tools/bench/cpu.sh # core, and CPU=avx2
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${core[@]}" /usr/bin/python3 "tools/bench/$twin" "$@"; }
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
    # No PyTorch twin of Gemma's or the MoE's fine-tuning step: its rows only for Llamas.
    ! tunes || /tmp/attn-bench bench train-llama --model "$dir" --batch 4 --t 128 --reps 3 --json
    py "$dir"
    ! tunes || py "$dir" --train --batch 4 --t 128 --reps 3
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
    n = {"prompt": 128, "train-llama": 512}.get(bench, batch)
    rate = f"  ({1e3 * n / am:.0f} vs {1e3 * n / tm:.0f} tokens/s)" if n > 1 else ""
    print(f"{what:20} attn {am:8.2f} ms   torch {tm:8.2f} ms   speed ratio {med(ratios):.2f} (rounds: {' '.join(f'{x:.2f}' for x in ratios)}){rate}")
    if bench == "load" and all("first_ms" in t and "first_ms" in a["params"] for a, t in pairs):
        # The first load of each process, memory faulted in fresh: what a user waits for.
        af, tf = med(a["params"]["first_ms"] for a, _ in pairs), med(t["first_ms"] for _, t in pairs)
        fr = [t["first_ms"] / a["params"]["first_ms"] for a, t in pairs]
        print(f"{'load, first':20} attn {af:8.2f} ms   torch {tf:8.2f} ms   speed ratio {med(fr):.2f} (rounds: {' '.join(f'{x:.2f}' for x in fr)})")
PY
