#!/usr/bin/env bash
# Runs each benchmark in attn and in PyTorch, one after the other in the same
# session, and prints the ratio attn/PyTorch (throughput; > 1 means attn is
# faster). Machines here are shared and noisy: compare ratios, not times.
#
#   tools/bench/compare.sh                 # the default set
#   tools/bench/compare.sh gemm --m 2048 --n 2048 --k 2048
#   ROUNDS=7 tools/bench/compare.sh train --shape small
#   CPU=avx2 tools/bench/compare.sh gemm   # both sides held to AVX2, as on
#                                          # a machine without AVX-512
#   ATTN_MATMUL=bf16 tools/bench/compare.sh train --shape small
#                                          # products in bfloat16: attn's
#                                          # kernels, PyTorch's autocast;
#                                          # TORCH_MATMUL=fp32 keeps PyTorch's
#                                          # in float32
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o /tmp/attn-bench ./cmd/attn
. tools/bench/cpu.sh # core: PyTorch's fair setting, and CPU=avx2
# py drops the variables that force OpenBLAS's older kernels.
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${core[@]}" /usr/bin/python3 tools/bench/torch_bench.py "$@"; }

# one runs a benchmark in attn and in PyTorch alternately, ROUNDS times
# (default 3), and prints the medians and the median of the per-round
# ratios: on a shared machine a single pair can be off by 20%.
one() {
  local a t as=() ts=()
  for _ in $(seq "${ROUNDS:-3}"); do
    as+=("$(/tmp/attn-bench bench "$@" --json)")
    ts+=("$(py "$@")")
  done
  /usr/bin/python3 - "${as[@]}" "${ts[@]}" <<'PY'
import json, statistics, sys
rows = [json.loads(x) for x in sys.argv[1:]]
half = len(rows) // 2
a, t = rows[:half], rows[half:]
key = "gflops" if "gflops" in a[0] and "gflops" in t[0] else "tokens_per_s"  # what both sides report
unit = "GFLOP/s" if key == "gflops" else "tokens/s"
av, tv = [r[key] for r in a], [r[key] for r in t]
ratios = [x / y for x, y in zip(av, tv)]
p = {k: v for k, v in a[0]["params"].items() if k != "workers"}
print(f'{a[0]["bench"]:10} {json.dumps(p):70} attn {statistics.median(av):9.1f}  torch {statistics.median(tv):9.1f} {unit:8}  '
      f'ratio {statistics.median(ratios):.2f} (rounds: {" ".join(f"{r:.2f}" for r in ratios)}; torch: {t[0]["params"]["threads"]} threads, OpenBLAS {t[0]["params"]["openblas"]}, ATen {t[0]["params"]["aten"]}, matmul {t[0]["params"].get("matmul", "fp32")}, malloc {t[0]["params"].get("malloc", "?")}; attn allocs/run {a[0]["allocs"]:.0f})')
if "losses" in a[0] and "losses" in t[0]:  # train: both sides' first and last losses, medians over the rounds
    ends = lambda rs: " → ".join(f"{statistics.median(r['losses'][i] for r in rs):.3f}" for i in (0, -1))
    print(f'{"":10} loss over {len(a[0]["losses"])} steps: attn {ends(a)}, torch {ends(t)}')
if "of_peak" in a[0]:  # gemm: attn's products against the FMA peak measured beside each
    fracs = [100 * r["of_peak"] for r in a]
    peak = statistics.median(r["peak_gflops"] for r in a)
    # PyTorch's against the peak attn measured in the same round, just before it.
    tfracs = [100 * y[key] / x["peak_gflops"] for x, y in zip(a, t)]
    kind = "bfloat16 (twice the FMA)" if a[0]["params"]["kernels"].endswith("-bf16") else "FMA"
    print(f'{"":10} attn at {statistics.median(fracs):.0f}% of the {kind} peak measured beside it '
          f'(rounds: {" ".join(f"{x:.0f}%" for x in fracs)}; peak {peak:.1f} GFLOP/s), '
          f'torch at {statistics.median(tfracs):.0f}% of the same round\'s peak')
PY
}

# The machine and its ceilings at the start of the sitting: results from
# different CPUs (a Zen 4 and a Zen 5 EPYC both say "AMD EPYC") or from a
# noisy hour are not comparable.
/tmp/attn-bench bench peak
if [ $# -gt 0 ]; then one "$@"; exit; fi
for s in 256 512 1024 2048; do one gemm --m $s --n $s --k $s; done
one attention --t 1024 --reps 3
one attention --t 4096 --reps 2
one train --shape small --reps 5
one train --shape base --reps 3
one train-gpt --reps 10
one vit --batch 8 --reps 3
one train-vit --batch 8 --reps 2
one encode --batch 8 --t 128 --reps 5
one train-bert --batch 8 --t 128 --reps 2
one train-t5 --batch 8 --t 64 --reps 2
