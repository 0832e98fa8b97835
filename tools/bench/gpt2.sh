#!/usr/bin/env bash
# GPT-2 small (124M, random weights) inference in attn and in PyTorch, one
# after the other in the same session: checkpoint load, a 128-token prompt,
# and decoding one token with 16 and 1,000 tokens cached. Prints each
# result and the ratio (> 1: attn is faster).
#
#   tools/bench/gpt2.sh [DIR]     # DIR (default /tmp/attn-gpt2) gets the 500 MB folder
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-/tmp/attn-gpt2}
go build -o /tmp/attn-bench ./cmd/attn
core=()
grep -qw avx512f /proc/cpuinfo && core=(OPENBLAS_CORETYPE=SkylakeX)
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${core[@]}" /usr/bin/python3 tools/bench/torch_gpt2.py "$@"; }
[ -f "$dir/model.pt" ] || py --write "$dir"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  /tmp/attn-bench bench load --model "$dir" --reps 5 --json
  /tmp/attn-bench bench prompt --model "$dir" --t 128 --reps 10 --json
  /tmp/attn-bench bench decode --model "$dir" --t 16 --reps 30 --json
  /tmp/attn-bench bench decode --model "$dir" --t 1000 --reps 30 --json
  py "$dir"
} > "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
key = lambda r: (r["bench"], r.get("cached", r.get("params", {}).get("cached")))
attn = {key(r): r for r in rows if "impl" not in r}
for r in rows:
    if "impl" not in r:
        continue
    a = attn[key(r)]
    what = r["bench"] + (f" ({r['cached']} cached)" if "cached" in r else "")
    rate = f"  ({a['tokens_per_s']:.1f} vs {r['tokens_per_s']:.1f} tokens/s)" if "tokens_per_s" in r else ""
    print(f"{what:20} attn {a['ms']:8.2f} ms   torch {r['ms']:8.2f} ms   speed ratio {r['ms'] / a['ms']:.2f}{rate}")
PY
