#!/usr/bin/env bash
# The loss trajectory of the model `attn bench train` times, trained on real
# sentence pairs (Multi30k German → English) by attn and by PyTorch from the
# same initial weights on the same batches, in float32 and in bfloat16
# (attn's ATTN_MATMUL=bf16, PyTorch's autocast), one run after the other.
# Prints each run's loss at some steps, its largest and mean distance from
# PyTorch's float32 run, its validation losses and its time a step, and
# plots each run's loss minus PyTorch's float32 one (DIR/trajectory.png).
#
#   tools/bench/trajectory.sh                        # small, 300 steps, dropout 0
#   STEPS=500 DROPOUT=0.1 tools/bench/trajectory.sh  # the benchmark's dropout:
#                                                    # both sides then draw
#                                                    # their own masks
#   SHAPE=base tools/bench/trajectory.sh
#
# With dropout 0 both sides compute the same numbers up to rounding, so the
# curves should agree closely; with dropout they agree only as two runs
# with different random masks do.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${DIR:-/tmp/attn-trajectory-runs}
go build -o /tmp/attn-trajectory-bin ./tools/bench/trajectory
. tools/bench/cpu.sh # core: PyTorch's fair setting
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${core[@]}" /usr/bin/python3 tools/bench/torch_trajectory.py "$@"; }
rm -f "$dir"/*.json
flags=(-dir "$dir" -shape "${SHAPE:-small}" -steps "${STEPS:-300}" -every "${EVERY:-100}" -dropout "${DROPOUT:-0}")
/tmp/attn-trajectory-bin -write "${flags[@]}"
/tmp/attn-trajectory-bin -bf16 "${flags[@]}"
py "$dir"
py "$dir" --autocast
/usr/bin/python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
c = json.load(open(os.path.join(d, "config.json")))
runs = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d)) if f.endswith(".json") and f != "config.json"]
ref = next(r for r in runs if r["side"] == "torch fp32")
n = len(ref["losses"])
marks = sorted({0, 9, 49, 99, n // 2 - 1, n - 1} & set(range(n)))
print(f'{c["shape"]} model ({c["d_model"]} wide, {c["layers"]}+{c["layers"]} layers, vocabulary {c["vocab"]}), '
      f'batches of {c["batch"]} Multi30k pairs, Adam at {c["lr"]:g}, dropout {c["dropout"]:g}, {n} steps')
print(f'{"run":22}' + "".join(f'{"step " + str(k + 1):>10}' for k in marks)
      + f'{"max |Δ|":>10}{"mean |Δ|":>10}' + "".join(f'{"val@" + s:>10}' for s in ref["val_loss"]) + f'{"s/step":>9}{"speed":>8}')
for r in sorted(runs, key=lambda r: r["side"]):
    diffs = [abs(x - y) for x, y in zip(r["losses"], ref["losses"])]
    print(f'{r["side"]:22}' + "".join(f'{r["losses"][k]:10.4f}' for k in marks)
          + f'{max(diffs):10.4f}{sum(diffs) / len(diffs):10.4f}'
          + "".join(f'{r["val_loss"][s]:10.4f}' for s in ref["val_loss"])
          + f'{r["seconds"] / n:9.3f}{ref["seconds"] / r["seconds"]:7.2f}x')
print("|Δ|: distance from torch fp32's loss at the same step; speed: against torch fp32's time a step")
PY
/tmp/attn-trajectory-bin -dir "$dir" -plot
echo "plot: $dir/trajectory.png"
