#!/usr/bin/env bash
# distill (release build) against eager PyTorch on the MiniLM-L6-H384 checkpoint, with the same
# shapes and thread count, measured in alternation (scripts/bench_vs_pytorch.py): per shape and
# measure, the median and quartiles of the per-round time ratios (distill / PyTorch; below 1.0
# distill is faster), with the processor they were measured on.
#
#   scripts/bench-vs-pytorch.sh [--rounds 5] [--iterations 5] [--threads N] [--shapes 8x128,16x256,1x384] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(scripts/fetch-minilm.sh)
cargo build --quiet --release -p distill-cli
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
exec python3 scripts/bench_vs_pytorch.py --distill "$target_dir/release/distill" --model "$model" "$@"
