#!/usr/bin/env bash
# The headline experiment, small-scale: a MiniLM-L6-H384 QA teacher and 3-layer students.
#   teacher    MiniLM fine-tuned for QA on SQuAD 2.0 train (10 articles) + SQuAD 1.1 dev (visible
#              articles, without the two dev-v2.0-small asks about), about 11,500 questions
#   student A  3 of the teacher's layers, trained on labels alone
#   student B  the same student, prediction-layer distillation from the teacher (T 1.5, w 0.75;
#              B' the same with T 2, w 1; B'' as B' on the augmented data of C, for 1 and
#              2 epochs; A and B' again with --group-by-length)
#   student C  the TinyBERT recipe: general intermediate distillation on raw text
#              (unlabelled-v2.0.json), task intermediate distillation on data augmented by
#              `distill augment`, then prediction-layer distillation (C' the same without the
#              general stage and the attention-score term, and again with that term at 0.1;
#              C'' the task-intermediate student of C' with its prediction stage on the
#              augmented data, also at learning rate 3e-4, at T 1 and on six copies; C''' C''s
#              two stages in one joint stage, also over 2 epochs, with 4 layers (also narrowed, by
#              weight, by activations and by the loss, before and after distillation; by the loss
#              also with the prediction term as MSE on logits), with 5 narrowed layers
#              (by activations) and with the questions
#              of unlabelled-v2.0.json added; C with its general stage taught by the pre-trained MiniLM, as
#              TinyBERT does, and the same without its task-intermediate stage)
# then `distill eval` and `distill bench` of every model on dev-v2.0-small.json, a table in
# target/squad-minilm/results.md, a page of charts in target/squad-minilm/report.html, a check that each model with a record in recorded/ scores
# every question as recorded, and a check that Python transformers loads the exported models
# and gives the same answers. Every run checkpoints and resumes, and finished runs and
# stages are skipped, so the whole can be run in several sittings: just start it again.
#
#   examples/squad-minilm/run.sh            (needs ../shared beside the repository)
#   RECORD=1 ONLY="student-a" examples/squad-minilm/run.sh   (and record every model evaluated)
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${SHARED:-../shared}/data
out=target/squad-minilm
here=examples/squad-minilm
model=$(scripts/fetch-minilm.sh)
epochs=${EPOCHS:-2}
common=(--max-seq-len 256 --doc-stride 128 --batch-size 16 --eval-every 500 --save-every 50 --dev "$shared/squad/dev-v2.0-small.json")
mkdir -p "$out"
cargo build --quiet --release -p distill-cli
distill=./target/release/distill
[ -f "$out/teacher-train.json" ] || python3 $here/prepare_data.py "$shared/squad" "$out/teacher-train.json"

# ONLY="student-a student-b-aug" trains just the students named (and the teacher, which they all
# need); the evaluations, benches and table then cover every model that has finished.
only=${ONLY:-}
wanted() { # name: whether ONLY (when set) asks for that run; the teacher is always wanted
  [ -z "$only" ] || [ "$1" = teacher ] || [[ " $only " == *" $1 "* ]]
}
timed() { # name, command...: runs a step unless it finished, recording its wall time
  local name=$1; shift
  if [ -f "$out/$name/report.json" ]; then echo "$name: done"; return; fi
  if ! wanted "$name"; then echo "$name: not in ONLY"; return; fi
  local start=$SECONDS
  "$@"
  echo $((SECONDS - start)) >> "$out/$name/wall-seconds"
}

timed teacher $distill --strategy finetune --student "$model" --train "$out/teacher-train.json" --output "$out/teacher" \
  --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"
teacher="$out/teacher/student"
timed student-a $distill --strategy finetune --teacher "$teacher" --student-layers 3 --train "$out/teacher-train.json" \
  --output "$out/student-a" --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"
timed student-b $distill --strategy prediction --teacher "$teacher" --student-layers 3 --train "$out/teacher-train.json" \
  --output "$out/student-b" --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"
# Three copies of each paragraph, the original included (TinyBERT uses 20): the task
# intermediate stage runs the full teacher every step, and at 3x the data it is already the longest
# stage on 2 cores (about 40,000 windows).
[ -f "$out/augmented.json" ] || $distill augment --input "$out/teacher-train.json" --output "$out/augmented.json" \
  --glove "$shared/glove/glove.6B.50d.7849words.txt" --multiplication-factor 3 --seed 1 > "$out/augment-stats.json"
# B'': B' (T 2, w 1, next) on the augmented data, 1 epoch, from the same 3-layer student as A and B: what the
# augmented data does for prediction-layer distillation without the intermediate stage of C''.
# It shares the teacher logits C'' cached (same teacher, same data).
timed student-b-aug $distill --strategy prediction --teacher "$teacher" --student-layers 3 \
  --train "$out/augmented.json" --output "$out/student-b-aug" --cache-dir "$out/student-c-aug/cache" \
  --temperature 2 --distill-weight 1 --epochs 1 --learning-rate 1e-4 "${common[@]}"
# B'' over 2 epochs: its dev F1 was still rising at the end of its one epoch (29.00 at update
# 2,500, 29.33 at 2,603). Same data, teacher logits and targets; only the schedule is twice as long.
timed student-b-aug-2ep $distill --strategy prediction --teacher "$teacher" --student-layers 3 \
  --train "$out/augmented.json" --output "$out/student-b-aug-2ep" --cache-dir "$out/student-c-aug/cache" \
  --temperature 2 --distill-weight 1 --epochs 2 --learning-rate 1e-4 "${common[@]}"

# B'' over 2 epochs with --group-by-length (below): the same schedule in about 40 % less time
# per update, so that the teacher, its logits for the augmented windows and all 5,206 updates fit
# in one sitting on 2 cores. Grouping left A level (F1 27.57 against 27.43).
timed student-b-aug-2ep-grouped $distill --strategy prediction --teacher "$teacher" --student-layers 3 \
  --train "$out/augmented.json" --output "$out/student-b-aug-2ep-grouped" --cache-dir "$out/student-c-aug/cache" \
  --temperature 2 --distill-weight 1 --group-by-length --epochs 2 --learning-rate 1e-4 "${common[@]}"

# B's variant with softer targets and no labels. It shares B's cached teacher logits.
timed student-b-t2w1 $distill --strategy prediction --teacher "$teacher" --student-layers 3 --train "$out/teacher-train.json" \
  --output "$out/student-b-t2w1" --cache-dir "$out/student-b/cache" --temperature 2 --distill-weight 1 \
  --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"
# A and B' again with --group-by-length: batches of windows of similar length, so less padding
# (each stage's first metrics line counts the tokens an epoch computes on): what grouping saves
# in time and what it does to the scores, A against B' as above.
timed student-a-grouped $distill --strategy finetune --teacher "$teacher" --student-layers 3 --train "$out/teacher-train.json" \
  --output "$out/student-a-grouped" --group-by-length --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"
timed student-b-t2w1-grouped $distill --strategy prediction --teacher "$teacher" --student-layers 3 --train "$out/teacher-train.json" \
  --output "$out/student-b-t2w1-grouped" --cache-dir "$out/student-b/cache" --temperature 2 --distill-weight 1 \
  --group-by-length --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"

# The TinyBERT recipe's flags, shared by every C: task_c, the task-intermediate stage's (and the
# learning rate), shared by every tinybert run; recipe_c adds the prediction stage on the original
# data; C and C with the pre-trained general teacher add the general stage (general_c); C' and its
# variants start at the task stage.
task_c=(--strategy tinybert --teacher "$teacher" --student-layers 3 --intermediate-train "$out/augmented.json"
  --intermediate-epochs 1 --intermediate-learning-rate 1e-4 --learning-rate 1e-4 "${common[@]}")
recipe_c=("${task_c[@]}" --train "$out/teacher-train.json" --cache-dir "$out/student-b/cache" --epochs "$epochs")
general_c=(--general-train "$shared/squad/unlabelled-v2.0.json")

# C': C below without the general stage (--start-stage 2) and without the attention-score term:
# the student is already a copy of the teacher's layers, and after the general stage on raw text
# its QA head abstained on every window (probe_stages.py); in C the raw-score attention MSE
# outweighed the hidden-state term ten to thirty times and pulled even the copied embeddings away.
timed student-c-nogen $distill "${recipe_c[@]}" --start-stage 2 --attention-weight 0 --output "$out/student-c-nogen"

# C' with the attention-score term back at a tenth of its weight (the term was ten to thirty times
# the hidden-state term in C; at 0.1 it is five times that term at the start and twice at the
# end), batches grouped by length in both stages to fit a sitting. Against C' it measures whether
# a small attention term helps (NOTES.md: it does not).
timed student-c-attn-small $distill "${recipe_c[@]}" --start-stage 2 --attention-weight 0.1 --group-by-length \
  --output "$out/student-c-attn-small"

# C'': the task-intermediate student of C', then prediction-layer distillation on the augmented
# data (where TinyBERT runs its prediction stage) instead of the original, 1 epoch (1.5 times the
# updates of 2 epochs on the original), with the softer targets of B' and no labels (w 1): the
# teacher labels every augmented window.
timed student-c-aug $distill --strategy prediction --teacher "$teacher" --student "$out/student-c-nogen/stage-2-task-intermediate/student" \
  --train "$out/augmented.json" --output "$out/student-c-aug" --temperature 2 --distill-weight 1 \
  --epochs 1 --learning-rate 1e-4 "${common[@]}"

# C'' in one tinybert run, batches grouped by length in both stages so that it fits a sitting:
# C''s task stage (no general stage, no attention term), then the prediction stage of C'' on the
# augmented data. Against B'' (the same prediction stage from the copied layers) it measures what
# the task-intermediate stage adds when the prediction stage has the augmented data too.
timed student-c-aug-grouped $distill "${task_c[@]}" --start-stage 2 --attention-weight 0 --group-by-length \
  --train "$out/augmented.json" --cache-dir "$out/student-c-aug/cache" --temperature 2 --distill-weight 1 --epochs 1 \
  --output "$out/student-c-aug-grouped"

# C'' grouped's prediction stage again from its task-intermediate student, one setting changed
# each: c_aug_from holds the flags they all share, c_aug_prediction adds the three augmented
# copies and their cached teacher logits.
c_aug_from=(--strategy prediction --teacher "$teacher" --student "$out/student-c-aug-grouped/stage-2-task-intermediate/student"
  --distill-weight 1 --group-by-length --epochs 1 "${common[@]}")
c_aug_prediction=("${c_aug_from[@]}" --train "$out/augmented.json" --cache-dir "$out/student-c-aug/cache")
# At three times the learning rate (3e-4): whether the rate of 1e-4 every student has used holds
# the 3-layer student back (B'' over 2 epochs levelled off near 29.4 F1 at that rate).
timed student-c-aug-lr3e-4 $distill "${c_aug_prediction[@]}" --temperature 2 --learning-rate 3e-4 \
  --output "$out/student-c-aug-lr3e-4"
# At temperature 1, as TinyBERT runs its prediction stage (every student so far had T 1.5 or 2):
# sharper targets, closer to the argmax the decoding takes.
timed student-c-aug-t1 $distill "${c_aug_prediction[@]}" --temperature 1 --learning-rate 1e-4 \
  --output "$out/student-c-aug-t1"
# On six copies of each paragraph instead of three (TinyBERT uses 20), 1 epoch: as many updates
# as B'' over 2 epochs, but over distinct windows, where B'''s second pass over the same three
# copies gained little (29.46 against 29.33). Its teacher logits are computed anew (43 min on two cores).
if wanted student-c-aug6; then
  [ -f "$out/augmented-6.json" ] || $distill augment --input "$out/teacher-train.json" --output "$out/augmented-6.json" \
    --glove "$shared/glove/glove.6B.50d.7849words.txt" --multiplication-factor 6 --seed 1 > "$out/augment-6-stats.json"
fi
timed student-c-aug6 $distill "${c_aug_from[@]}" --train "$out/augmented-6.json" --temperature 2 --learning-rate 1e-4 \
  --output "$out/student-c-aug6"

# C''': the two stages of C'' in one joint stage: hidden states and the teacher's soft targets
# (T 2, w 1) matched at once on the augmented data, 1 epoch from the copied layers, grouped by
# length, no attention term. In C'' the prediction stage moved the layers away from the teacher's
# again (probe_stages.py); here the hidden-state term holds them while the head learns. The
# prediction term at weight 0.25 is about four times the hidden term at the first update (at 1 it
# would be fifteen times: 5.9 against 0.38). Against B'' (the prediction term alone) it measures
# what the hidden term adds.
joint_c=(--strategy intermediate --teacher "$teacher"
  --intermediate-learning-rate 1e-4 --attention-weight 0 --intermediate-prediction-weight 0.25 --temperature 2
  --distill-weight 1 --group-by-length "${common[@]}")
timed student-c-joint $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 3 --output "$out/student-c-joint"
# C''' over 2 epochs: its one epoch ended still improving (best at its last evaluation), and
# B'' gained a little from a second pass (29.46 against 29.33).
timed student-c-joint-2ep $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 2 --student-layers 3 --output "$out/student-c-joint-2ep"
# C''' with 4 layers instead of 3: not a candidate for the targets (4 of 6 layers cannot reach
# 1.8x the teacher's speed), but a measure of how much of the gap to the teacher is depth, where
# every 3-layer student has ended at 88-89 % of its F1.
timed student-c-joint-4layers $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 4 --output "$out/student-c-joint-4layers"
# The same 4 layers with each feed-forward block narrowed to the 512 of its 1,536 inner neurons
# of the largest weights (--student-intermediate-size): on this CPU attention is most of a
# layer's time, so 4 narrow layers cost about what 3 full ones do (a bench of such a copy before
# training: 1.92x, paired 1.98x), and the question is how much of the fourth layer's F1 they keep.
timed student-c-joint-4layers-ffn512 $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 4 \
  --student-intermediate-size 512 --output "$out/student-c-joint-4layers-ffn512"
# The same with the 512 neurons chosen by what they add to their layer's output on 512 training
# windows (--neuron-importance activations) instead of by weight alone: whether the neurons the
# task data excites keep more of the fourth layer's F1 (28.19 by weight, 31.17 at full width).
timed student-c-joint-4layers-ffn512-act $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 4 \
  --student-intermediate-size 512 --neuron-importance activations --output "$out/student-c-joint-4layers-ffn512-act"
# Depth against width at the same size: 5 layers (teacher layers 1-5) with 256 of 1,536 neurons
# by activations, about the parameters of the 4 layers at 512 (15,870,082 against 15,867,394).
# A bench of such a copy before training: 1.80x, paired 1.85x at batch 1 x 384 (1.72x in
# throughput at batch 32), the widest 5 layers can be within the speed target (384: 1.63x).
timed student-c-joint-5layers-ffn256-act $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 5 \
  --student-intermediate-size 256 --neuron-importance activations --output "$out/student-c-joint-5layers-ffn256-act"
# The 4 layers at 512 with the neurons ranked by the loss instead (--neuron-importance taylor):
# per training window, the size of the span loss's gradient with respect to a gate on each
# neuron's output, summed over 512 windows: what removing the neuron would change, to first
# order, through every layer above it and the head, where activations see only its own layer.
# Untrained copies score F1 12.11 this way (activations 8.13, weights 5.01).
timed student-c-joint-4layers-ffn512-taylor $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 4 \
  --student-intermediate-size 512 --neuron-importance taylor --output "$out/student-c-joint-4layers-ffn512-taylor"
# The same 4 x 512 by the loss with the prediction term matching the teacher's logits by their
# squared difference (--kd-loss mse) instead of the KL of the softened distributions: every
# position's logit is a target, where at T 2 the KL weighs mostly the few likely positions (and
# MSE on logits has done better than KL in other distillation studies). The training signal, not
# the student, is what changes.
timed student-c-joint-4layers-ffn512-taylor-mse $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --student-layers 4 \
  --student-intermediate-size 512 --neuron-importance taylor --kd-loss mse --output "$out/student-c-joint-4layers-ffn512-taylor-mse"
# Narrowed after distillation instead of before: the distilled 4-layer C''' (31.17) narrowed to
# 512 neurons by activations, then half an epoch (1,300 updates) of the same joint stage to
# recover; its training time adds to the 4-layer run's.
if [ -f "$out/student-c-joint-4layers/report.json" ]; then
  timed student-c-joint-4layers-then-ffn512-act $distill "${joint_c[@]}" --train "$out/augmented.json" --intermediate-epochs 1 --max-steps 1300 \
    --student "$out/student-c-joint-4layers/student" --student-intermediate-size 512 --neuron-importance activations \
    --output "$out/student-c-joint-4layers-then-ffn512-act"
else
  echo "student-c-joint-4layers-then-ffn512-act: waits for student-c-joint-4layers"
fi
# C''' with the 5,915 questions of unlabelled-v2.0.json added to its data: neither the learning
# rate, the temperature, a second epoch nor six augmented copies moved the 3-layer students, so
# this asks whether new real questions do (SQuAD 2.0 dev questions, half of which are
# unanswerable across that set, where the teacher's data has 348 in 12,314). The stage learns from the teacher alone (w 1), which labels them.
if wanted student-c-joint-unlabelled && [ ! -f "$out/augmented-unlabelled.json" ]; then
  python3 $here/add_unlabelled.py "$out/augmented.json" "$shared/squad/unlabelled-v2.0.json" "$out/augmented-unlabelled.json"
fi
timed student-c-joint-unlabelled $distill "${joint_c[@]}" --train "$out/augmented-unlabelled.json" \
  --intermediate-epochs 1 --student-layers 3 --output "$out/student-c-joint-unlabelled"

# C as TinyBERT runs it: the general stage learns from the pre-trained MiniLM (--general-teacher),
# the task stages from the fine-tuned teacher. With the fine-tuned teacher in the general stage
# (C, below) that stage's student abstains on every dev question; with the pre-trained one it
# still answers (NOTES.md).
timed student-c-pretrained-general $distill "${recipe_c[@]}" "${general_c[@]}" --general-teacher "$model" --output "$out/student-c-pretrained-general"

# The same without its task-intermediate stage: the general stage's student (pre-trained MiniLM
# as its teacher) straight into C's prediction stage, which is B's (T 1.5, w 0.75, same cached
# logits). Against the line above it measures what the task stage does; against B, the general stage.
timed student-c-general-prediction $distill --strategy prediction --teacher "$teacher" \
  --student "$out/student-c-pretrained-general/stage-1-general-intermediate/student" --train "$out/teacher-train.json" \
  --output "$out/student-c-general-prediction" --cache-dir "$out/student-b/cache" --epochs "$epochs" --learning-rate 1e-4 "${common[@]}"

# C, the full recipe, last: its three stages are the longest run.
timed student-c $distill "${recipe_c[@]}" "${general_c[@]}" --output "$out/student-c"

# models.tsv lists every model (the table reads it too); those that have finished are evaluated.
students=()
while IFS=$'\t' read -r m _; do
  [ "$m" != teacher ] && [ -f "$out/$m/report.json" ] && students+=("$m")
done < <(grep -v '^#' "$here/models.tsv")
for m in teacher "${students[@]}"; do
  dir="$out/$m/student"
  [ -f "$out/eval-$m/scores.json" ] || $distill eval --model "$dir" --data "$shared/squad/dev-v2.0-small.json" --output-dir "$out/eval-$m" > "$out/eval-$m.json"
  # Each question's official score, for the paired comparison below.
  [ -f "$out/eval-$m/per-question.json" ] || $distill score --data "$shared/squad/dev-v2.0-small.json" --predictions "$out/eval-$m/predictions.json" \
    --per-question "$out/eval-$m/per-question.json" > /dev/null
done
for m in "${students[@]}"; do
  [ -f "$out/bench-$m.json" ] || $distill bench --json --iterations 10 --teacher "$teacher" --student "$out/$m/student" > "$out/bench-$m.json"
done
python3 $here/table.py "$out" | tee "$out/results.md"
# One page of every finished model: each stage's curves, the timeline, and the models compared
# (their eval scores in RUN/eval, their benches against the teacher).
benches=()
for m in "${students[@]}"; do benches+=(--bench "$out/bench-$m.json"); done
for m in teacher "${students[@]}"; do mkdir -p "$out/$m/eval" && cp "$out/eval-$m/scores.json" "$out/$m/eval/"; done
$distill report "$out/teacher" "${students[@]/#/$out/}" "${benches[@]}" --output "$out/report.html"
# recorded/NAME/: the official per-question scores of earlier sittings, committed (RECORD=1 below
# writes them). The runs reproduce from their seeds across processors, so a model retrained here
# is checked against its record, and a model not retrained here (A, usually) can still be
# compared with from its record.
for m in teacher "${students[@]}"; do
  record=$here/recorded/$m/per-question.json
  [ -f "$record" ] || continue
  same=false; cmp -s "$record" "$out/eval-$m/per-question.json" && same=true
  echo "{\"model\": \"$m\", \"per_question_same_as_recorded\": $same}"
done > "$out/reproduced.jsonl"
cat "$out/reproduced.jsonl"
# Each model against A, with a paired bootstrap interval of the F1 difference (the dev set is small).
a="$out/eval-student-a/per-question.json"; a_from=this-sitting
[ -f "$a" ] || { a=$here/recorded/student-a/per-question.json; a_from=recorded; }
if [ -f "$a" ]; then
  for m in "${students[@]}" teacher; do
    [ "$m" = student-a ] && continue
    comparison=$(python3 $here/compare.py "$a" "$out/eval-$m/per-question.json")
    echo "{\"a\": \"student-a\", \"a_from\": \"$a_from\", \"b\": \"$m\", \"comparison\": $comparison}"
  done > "$out/compare-with-a.jsonl"
fi
if [ -n "${RECORD:-}" ]; then
  for m in teacher "${students[@]}"; do
    mkdir -p "$here/recorded/$m"
    cp "$out/eval-$m/scores.json" "$out/eval-$m/per-question.json" "$here/recorded/$m/"
  done
fi
# The exported models, loaded by Python transformers alone, give distill's answers.
python3 $here/check_transformers.py "$out" "$shared/squad/dev-v2.0-small.json" | tee "$out/transformers-check.txt"
# How far each stage's student is from the teacher, and what its QA head makes of it.
python3 $here/probe_stages.py "$out" "$shared/squad/dev-v2.0-small.json" > "$out/stage-probe.jsonl"
