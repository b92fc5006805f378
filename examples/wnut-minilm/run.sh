#!/usr/bin/env bash
# Named-entity recognition on real data: WNUT 2017 (tweets to train, YouTube comments to
# evaluate; ../shared/data/ner/wnut17), a MiniLM-L6-H384 teacher and 3-layer students.
#   teacher    MiniLM fine-tuned as a tagger on train.conll (3,394 sentences)
#   student A  3 of the teacher's layers, trained on the labels alone
#   student B  the same student, prediction-layer distillation from the teacher over the
#              labelled positions (T 2, w 0.75)
#   student C  the same student, one joint stage: the teacher's hidden states and its soft tags
#   student D  B's recipe on a transfer set: the training sentences and up to 7 copies of each
#              with words tagged O replaced by GloVe neighbours (`distill augment`), whose soft
#              tags the teacher gives (entities and gold tags kept)
#   student E  D for 4 epochs instead of 2 (D was still rising when it stopped)
#   student F  C's joint stage on D's transfer set
#   student G  D taught by two teachers, their soft tags averaged: the teacher and a second one
#              fine-tuned the same way from another seed (teacher-2)
#   A and D again at learning rate 2e-4 (student-a-lr2, student-d-lr2), compared with each other
# then `distill eval` (entity-level F1 as seqeval gives it) of each model on dev.conll, `distill
# bench` of the teacher against a student, a paired bootstrap over the dev sentences
# (compare.py), a page of charts (report.html) and the table (results.md).
# Every run checkpoints and resumes, and finished runs are skipped: just start it again.
#
#   examples/wnut-minilm/run.sh            (needs ../shared beside the repository)
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${SHARED:-../shared}/data/ner/wnut17
out=target/wnut-minilm
here=examples/wnut-minilm
model=$(scripts/fetch-minilm.sh)
epochs=${EPOCHS:-5}
common=(--task token-classification --max-seq-len 128 --batch-size 16 --save-every 50 --dev "$shared/dev.conll")
# Evaluated once per epoch of the 3,394 training sentences (213 updates of 16).
per_epoch=(--eval-every 213)
mkdir -p "$out"
cargo build --quiet --release -p distill-cli
distill=./target/release/distill

source scripts/timed.sh

# The teacher (seed 42), and a second one for G: the same fine-tuning from another seed (the new
# head and the order of the sentences differ).
for run in teacher:42 teacher-2:7; do
  timed "${run%:*}" $distill --strategy finetune --student "$model" --train "$shared/train.conll" --output "$out/${run%:*}" \
    --seed "${run#*:}" --epochs "$epochs" --learning-rate 1e-4 "${common[@]}" "${per_epoch[@]}"
done
teacher="$out/teacher/student"
# A, and A at twice the learning rate (to see whether 1e-4 held it back; D is run at 2e-4 too).
for run in student-a:1e-4 student-a-lr2:2e-4; do
  timed "${run%:*}" $distill --strategy finetune --teacher "$teacher" --student-layers 3 --train "$shared/train.conll" \
    --output "$out/${run%:*}" --epochs "$epochs" --learning-rate "${run#*:}" "${common[@]}" "${per_epoch[@]}"
done
timed student-b $distill --strategy prediction --teacher "$teacher" --student-layers 3 --train "$shared/train.conll" \
  --output "$out/student-b" --epochs "$epochs" --learning-rate 1e-4 --temperature 2 --distill-weight 0.75 "${common[@]}" "${per_epoch[@]}"
# C: one joint stage, the teacher's hidden states (through the layer mapping) and its soft tags
# over the labelled positions from the same forward pass (T 2, w 0.75; no attention term).
timed student-c $distill --strategy intermediate --teacher "$teacher" --student-layers 3 --train "$shared/train.conll" \
  --output "$out/student-c" --intermediate-epochs "$epochs" --intermediate-learning-rate 1e-4 --intermediate-prediction-weight 1 \
  --temperature 2 --distill-weight 0.75 --attention-weight 0 "${common[@]}" "${per_epoch[@]}"
# D: B's recipe on the transfer set (2 epochs of 6.5x the sentences: 2.6x B's updates).
[ -f "$out/train-aug8.conll" ] || $distill augment --input "$shared/train.conll" --output "$out/train-aug8.conll" \
  --glove "${SHARED:-../shared}/data/glove/glove.6B.50d.7849words.txt" --multiplication-factor 8 --replace-probability 0.4 --seed 42 > "$out/augment.json"
transfer_kd=(--strategy prediction --teacher "$teacher" --student-layers 3 --train "$out/train-aug8.conll" \
  --temperature 2 --distill-weight 0.75 "${common[@]}" --eval-every 462)  # D, E, G and D at 2e-4
timed student-d $distill "${transfer_kd[@]}" --learning-rate 1e-4 --output "$out/student-d" --epochs 2
# E: D run twice as long; the teacher's soft tags of the transfer set are D's, read from its cache.
timed student-e $distill "${transfer_kd[@]}" --learning-rate 1e-4 --output "$out/student-e" --epochs 4 --cache-dir "$out/student-d/cache"
# F: C's joint stage on the transfer set (2 epochs, as D).
timed student-f $distill --strategy intermediate --teacher "$teacher" --student-layers 3 --train "$out/train-aug8.conll" \
  --output "$out/student-f" --intermediate-epochs 2 --intermediate-learning-rate 1e-4 --intermediate-prediction-weight 1 \
  --temperature 2 --distill-weight 0.75 --attention-weight 0 "${common[@]}" --eval-every 462
# G: D with the two teachers' soft tags averaged (each teacher's are cached by G).
timed student-g $distill "${transfer_kd[@]}" --learning-rate 1e-4 --extra-teacher "$out/teacher-2/student" --output "$out/student-g" --epochs 2
# D at twice the learning rate (2e-4), against A at 2e-4; the teacher's soft tags from D's cache.
timed student-d-lr2 $distill "${transfer_kd[@]}" --learning-rate 2e-4 --output "$out/student-d-lr2" --epochs 2 --cache-dir "$out/student-d/cache"

students=(student-b student-c student-d student-e student-f student-g)  # each compared with A
for m in teacher teacher-2 student-a "${students[@]}" student-a-lr2 student-d-lr2; do
  [ -f "$out/$m/eval/scores.json" ] || $distill eval --model "$out/$m/student" --data "$shared/dev.conll" --max-seq-len 128 --output-dir "$out/$m/eval" > "$out/eval-$m.json"
done
# Speed: the teacher against a 3-layer student (A and B have one shape) at the length of a
# long tweet (64 tokens; the dev sentences average 23 words).
[ -f "$out/bench.json" ] || $distill bench --teacher "$teacher" --student "$out/student-b/student" --seq 64 --iterations 7 --json-file "$out/bench.json" > /dev/null
for m in "${students[@]}"; do
  python3 $here/compare.py "$out/student-a/eval/predictions.json" "$out/$m/eval/predictions.json" > "$out/compare-a-${m#student-}.json"
done
python3 $here/compare.py "$out/student-a-lr2/eval/predictions.json" "$out/student-d-lr2/eval/predictions.json" > "$out/compare-lr2.json"
$distill report "$out/teacher" "$out/student-a" "${students[@]/#/$out/}" --bench "$out/bench.json" --output "$out/report.html"
python3 $here/table.py "$out" > "$out/results.md"
cat "$out/results.md"
