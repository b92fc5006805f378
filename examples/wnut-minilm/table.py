#!/usr/bin/env python3
"""The results table of the WNUT 2017 example, from what run.sh wrote into OUT.

    python3 examples/wnut-minilm/table.py target/wnut-minilm
"""
import json
import os
import sys

MODELS = [
    ("teacher", "MiniLM-L6-H384 fine-tuned (teacher)"),
    ("teacher-2", "the same, another seed (G's second teacher)"),
    ("student-a", "A: 3 layers, labels only"),
    ("student-b", "B: 3 layers, prediction-layer KD (T 2, w 0.75)"),
    ("student-c", "C: 3 layers, joint stage: hidden states + soft tags (T 2, w 0.75)"),
    ("student-d", "D: B on the transfer set (train + GloVe-augmented copies)"),
    ("student-e", "E: D for 4 epochs instead of 2"),
    ("student-f", "F: C's joint stage on D's transfer set"),
    ("student-g", "G: D with both teachers' soft tags averaged"),
    ("student-a-lr2", "A at learning rate 2e-4"),
    ("student-d-lr2", "D at learning rate 2e-4"),
]


def main():
    out = sys.argv[1]
    bench = json.load(open(os.path.join(out, "bench.json")))
    teacher_f1 = None
    print("| model | dev entity F1 | precision | recall | strict IOB2 F1 | % of teacher | parameters |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, label in MODELS:
        path = os.path.join(out, name, "eval", "scores.json")
        if not os.path.exists(path):  # a model this run has not reached (or was not asked for)
            continue
        scores = json.load(open(path))
        f1 = 100 * scores["f1"]
        teacher_f1 = teacher_f1 or f1
        side = "teacher" if name.startswith("teacher") else "student"
        params = bench[side]["parameters"]
        print(f"| {label} | {f1:.2f} | {100 * scores['precision']:.2f} | {100 * scores['recall']:.2f} | "
              f"{100 * scores['strict_iob2']['f1']:.2f} | {100 * f1 / teacher_f1:.1f} | {params / 1e6:.1f} M |")
    print()
    # Every student compared with A (the files run.sh wrote), then D with A at 2e-4.
    students = [name.removeprefix("student-") for name, _ in MODELS if name.startswith("student-")]
    pairs = [(f"compare-a-{m}.json", m.upper(), "A") for m in students] + [("compare-lr2.json", "D at 2e-4", "A at 2e-4")]
    for file, student, base in pairs:
        path = os.path.join(out, file)
        if not os.path.exists(path):
            continue
        cmp = json.load(open(path))
        lo, hi = cmp["interval_95"]
        print(f"{student} - {base}: {cmp['difference']:+.2f} F1 (95 % interval {lo:+.2f} to {hi:+.2f} over {cmp['sentences']} sentences; "
              f"{student} not better in {100 * cmp['share_not_better']:.1f} % of resamplings)  ")
    lat = bench["paired_speedup"]["latency_ms_b1_s64"]
    thr = bench["paired_speedup"]["throughput_seq_per_s_b32_s64"]
    print(f"3-layer students against the teacher ({bench['machine']['processor']}, {bench['machine']['threads']} threads), "
          f"paired medians: latency at batch 1 x 64 {lat['median']:.2f}x (quartiles {lat['q1']:.2f}-{lat['q3']:.2f}), "
          f"throughput at batch 32 x 64 {thr['median']:.2f}x (quartiles {thr['q1']:.2f}-{thr['q3']:.2f})")


if __name__ == "__main__":
    main()
