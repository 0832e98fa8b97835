#!/usr/bin/env bash
# Serves a GPT model folder with attn serve and sends CLIENTS generate
# requests of 64 tokens at once, for each --batch given; prints the
# requests' total tokens/s (wall time from the first request sent to the
# last answer).
#
#   tools/bench/serve_load.sh [DIR [CLIENTS [BATCH...]]]   # defaults: /tmp/attn-gpt2 8 1 8
#
# DIR defaults to the GPT-2-shaped random-weight folder of tools/bench/gpt2.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-/tmp/attn-gpt2}
n=${2:-8}
shift $(($# < 2 ? $# : 2))
batches=("${@:-1 8}")
go build -o /tmp/attn-bench ./cmd/attn
for b in ${batches[*]}; do
  port=$((18100 + b))
  /tmp/attn-bench serve --model "$dir" --addr "localhost:$port" --batch "$b" >/dev/null 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 150); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
  curl -sf "localhost:$port/healthz" >/dev/null || { echo "attn serve did not start on port $port" >&2; exit 1; }
  curl -s "localhost:$port/v1/generate" -d '{"prompt": "warm up", "max_new_tokens": 4}' >/dev/null
  start=$(date +%s.%N)
  seq "$n" | xargs -P "$n" -I{} curl -sf "localhost:$port/v1/generate" -o /dev/null \
    -d '{"prompt": "Once upon a time, in a land far away, there lived a", "max_new_tokens": 64, "seed": {}}'
  end=$(date +%s.%N)
  kill $pid
  wait $pid 2>/dev/null || true
  awk -v b="$b" -v n="$n" -v s="$start" -v e="$end" \
    'BEGIN { d = e - s; printf "--batch %-2d %d clients x 64 tokens: %.2f s, %.0f tokens/s\n", b, n, d, n * 64 / d }'
done
