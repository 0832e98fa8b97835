#!/usr/bin/env bash
# A chat client's ten-turn conversation with attn serve, the SmolLM2-135M-
# shaped Llama of llama.sh (random weights) given a ChatML-style template:
# each turn's seconds with --prefix-cache (the last answer's cache holds the
# conversation so far) and without (every request runs it whole).
#
#   tools/bench/chat_turns.sh [LLAMA-DIR]   # default /tmp/attn-llama, written by llama.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${1:-/tmp/attn-llama}
[ -f "$src/model.safetensors" ] || { echo "no $src/model.safetensors: run tools/bench/llama.sh first" >&2; exit 1; }
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
ln -s "$(realpath "$src")/config.json" "$(realpath "$src")/model.safetensors" "$dir/"
/usr/bin/python3 tools/bench/chat_turns.py --folder "$dir"
go build -o /tmp/attn-bench ./cmd/attn
for cache in true false; do
  /tmp/attn-bench serve --model "$dir" --addr 127.0.0.1:8099 --prefix-cache=$cache >/dev/null 2>&1 &
  for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:8099/healthz && break; sleep 0.2; done
  echo -n "--prefix-cache=$cache: "
  /usr/bin/python3 tools/bench/chat_turns.py http://127.0.0.1:8099
  kill %1; wait 2>/dev/null || true
done
