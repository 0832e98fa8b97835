#!/usr/bin/env bash
# Runs each benchmark in attn and in PyTorch, one after the other in the same
# session, and prints the ratio attn/PyTorch (throughput; > 1 means attn is
# faster). Machines here are shared and noisy: compare ratios, not times.
#
#   tools/bench/compare.sh                 # the default set
#   tools/bench/compare.sh gemm --m 2048 --n 2048 --k 2048
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o /tmp/attn-bench ./cmd/attn
# PyTorch's fair setting: its best OpenBLAS kernel. The variables that force
# older kernels are dropped; on this virtual CPU OpenBLAS's own detection
# falls back to Prescott (SSE3), so with AVX-512 present we name its AVX-512
# kernel. The JSON line reports the kernel that ran.
core=()
grep -qw avx512f /proc/cpuinfo && core=(OPENBLAS_CORETYPE=SkylakeX)
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${core[@]}" /usr/bin/python3 tools/bench/torch_bench.py "$@"; }

one() {
  local a t
  a=$(/tmp/attn-bench bench "$@" --json)
  t=$(py "$@")
  /usr/bin/python3 - "$a" "$t" <<'PY'
import json, sys
a, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
key = "gflops" if "gflops" in a else "tokens_per_s"
unit = "GFLOP/s" if key == "gflops" else "tokens/s"
p = {k: v for k, v in a["params"].items() if k != "workers"}
print(f'{a["bench"]:10} {json.dumps(p):70} attn {a[key]:9.1f}  torch {t[key]:9.1f} {unit:8}  ratio {a[key]/t[key]:.2f}  (torch: {t["params"]["threads"]} threads, OpenBLAS {t["params"]["openblas"]}; attn allocs/run {a["allocs"]:.0f})')
PY
}

if [ $# -gt 0 ]; then one "$@"; exit; fi
for s in 256 512 1024 2048; do one gemm --m $s --n $s --k $s; done
one attention --t 1024 --reps 3
one attention --t 4096 --reps 2
one train --shape small --reps 5
one train --shape base --reps 3
one train-gpt --reps 10
