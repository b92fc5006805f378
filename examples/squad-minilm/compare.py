#!/usr/bin/env python3
"""How much of an F1 difference between two models is the dev set's noise: a paired bootstrap
over the questions.

    python3 examples/squad-minilm/compare.py PER_QUESTION_A PER_QUESTION_B [RESAMPLES]

PER_QUESTION_*: what `distill score --per-question FILE` wrote for each model on the same dev
file (the official per-question F1, so this script does no scoring of its own). Prints both
models' F1, the difference B - A and its 95 % interval over RESAMPLES (default 10,000)
resamplings of the questions with replacement, and the share of resamplings in which B is not
better.
"""
import json
import random
import sys


def f1_by_question(path):
    return {row["id"]: row["f1"] for row in json.load(open(path))}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = f1_by_question(sys.argv[1]), f1_by_question(sys.argv[2])
    if a.keys() != b.keys():
        sys.exit(f"{sys.argv[1]} and {sys.argv[2]} score different questions ({len(a)} and {len(b)})")
    resamples = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    ids = sorted(a)
    diffs = [b[i] - a[i] for i in ids]
    n = len(ids)
    rng = random.Random(0)
    means = sorted(100 * sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    low, high = means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]
    not_better = sum(m <= 0 for m in means) / resamples
    print(json.dumps({"questions": n, "f1_a": 100 * sum(a.values()) / n, "f1_b": 100 * sum(b.values()) / n,
                      "difference": 100 * sum(diffs) / n, "interval_95": [low, high], "share_not_better": not_better}))


if __name__ == "__main__":
    main()
