#!/usr/bin/env bash
# Prediction-layer distillation across tokenizers on real data: a MiniLM-L6-H384 QA teacher
# (WordPiece, bert-base-uncased vocabulary) teaches a student with a byte-level BPE vocabulary
# of its own (a RoBERTa, random-initialised, 4 layers x 256).
#   teacher    MiniLM fine-tuned for QA on SQuAD 2.0 train (10 articles), 1 epoch
#   vocabulary byte-level BPE, 8,000 tokens, trained on the SQuAD text in ../shared (train,
#              dev-v1.1-visible and unlabelled contexts; not the dev set scored here)
#   student A  the random RoBERTa trained on the labels alone
#   student B  the same student, prediction-layer distillation from the teacher (T 2, w 0.75):
#              the teacher reads each student window its own way, and its start and end
#              probabilities are carried to the student's tokens by character offsets
# then `distill eval` of each on dev-v2.0-small.json, per-question F1 and a paired bootstrap
# (examples/squad-minilm/compare.py), and `distill bench` of the teacher against the student.
# Every run checkpoints and resumes, and finished runs are skipped: just start it again.
#
#   examples/squad-cross-tokenizer/run.sh            (needs ../shared beside the repository)
set -euo pipefail
cd "$(dirname "$0")/../.."
squad=${SHARED:-../shared}/data/squad
out=target/squad-cross-tokenizer
model=$(scripts/fetch-minilm.sh)
epochs=${EPOCHS:-2}
common=(--max-seq-len 256 --doc-stride 128 --batch-size 16 --save-every 50 --dev "$squad/dev-v2.0-small.json")
mkdir -p "$out"
cargo build --quiet --release -p distill-cli
distill=./target/release/distill

source scripts/timed.sh

timed teacher $distill --strategy finetune --student "$model" --train "$squad/train-v2.0-10articles.json" \
  --output "$out/teacher" --epochs 1 --learning-rate 1e-4 "${common[@]}"
teacher="$out/teacher/student"
[ -f "$out/student-base/model.safetensors" ] || python3 scripts/make_bpe_student.py --out "$out/student-base" \
  --text "$squad/train-v2.0-10articles.json" "$squad/dev-v1.1-visible.json" "$squad/unlabelled-v2.0.json" \
  --vocab-size 8000 --layers 4 --hidden 256 --heads 4 --intermediate 1024 --seed 0
# A random student learns at a higher rate than a pre-trained one is fine-tuned at.
timed student-a $distill --strategy finetune --student "$out/student-base" --train "$squad/train-v2.0-10articles.json" \
  --output "$out/student-a" --epochs "$epochs" --learning-rate 5e-4 "${common[@]}"
timed student-b $distill --strategy prediction --teacher "$teacher" --student "$out/student-base" --train "$squad/train-v2.0-10articles.json" \
  --output "$out/student-b" --epochs "$epochs" --learning-rate 5e-4 --temperature 2 --distill-weight 0.75 "${common[@]}"

for m in teacher student-a student-b; do
  [ -f "$out/$m/eval/predictions.json" ] || $distill eval --model "$out/$m/student" --data "$squad/dev-v2.0-small.json" \
    --max-seq-len 256 --doc-stride 128 --output-dir "$out/$m/eval" > "$out/eval-$m.json"
  [ -f "$out/$m/per-question.json" ] || $distill score --data "$squad/dev-v2.0-small.json" --predictions "$out/$m/eval/predictions.json" \
    --per-question "$out/$m/per-question.json" > "$out/$m/score.json"
done
python3 examples/squad-minilm/compare.py "$out/student-a/per-question.json" "$out/student-b/per-question.json" > "$out/compare-a-b.json"
# Speed at one window of the training length: 256 tokens of each model's own vocabulary.
[ -f "$out/bench.json" ] || $distill bench --teacher "$teacher" --student "$out/student-b/student" --seq 256 --iterations 7 --json-file "$out/bench.json" > /dev/null
cat "$out/compare-a-b.json"
