#!/usr/bin/env python3
"""How much of an entity-F1 difference between two taggers is the dev set's noise: a paired
bootstrap over the sentences.

    python3 examples/wnut-minilm/compare.py PREDICTIONS_A PREDICTIONS_B [RESAMPLES]

PREDICTIONS_*: the predictions.json `distill eval --output-dir` wrote for each model on the same
dev file (per sentence: tokens, gold tags, predicted tags). Entities are read by seqeval (its
default mode, as distill reports). Each resampling draws the sentences with replacement and
recomputes both models' micro F1 from the drawn sentences' entity counts. Prints both F1s, the
difference B - A with its 95 % interval over RESAMPLES (default 10,000), and the share of
resamplings in which B is not better.
"""
import json
import random
import sys

from seqeval.metrics.sequence_labeling import get_entities


def counts(path):
    """Per sentence: (correct, predicted, gold) entity counts."""
    rows = json.load(open(path))
    out = []
    for row in rows:
        gold = set(get_entities(row["tags"]))
        pred = set(get_entities(row["predicted"]))
        out.append((len(gold & pred), len(pred), len(gold)))
    return rows, out


def f1(rows):
    correct, predicted, gold = (sum(r[i] for r in rows) for i in range(3))
    return 0.0 if predicted + gold == 0 else 200.0 * correct / (predicted + gold)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows_a, a = counts(sys.argv[1])
    rows_b, b = counts(sys.argv[2])
    if [r["tokens"] for r in rows_a] != [r["tokens"] for r in rows_b]:
        sys.exit(f"{sys.argv[1]} and {sys.argv[2]} hold different sentences")
    resamples = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    n = len(a)
    rng = random.Random(0)
    diffs = []
    for _ in range(resamples):
        pick = [rng.randrange(n) for _ in range(n)]
        diffs.append(f1([b[i] for i in pick]) - f1([a[i] for i in pick]))
    diffs.sort()
    low, high = diffs[int(0.025 * resamples)], diffs[int(0.975 * resamples) - 1]
    not_better = sum(d <= 0 for d in diffs) / resamples
    print(json.dumps({"sentences": n, "f1_a": f1(a), "f1_b": f1(b), "difference": f1(b) - f1(a),
                      "interval_95": [low, high], "share_not_better": not_better}))


if __name__ == "__main__":
    main()
