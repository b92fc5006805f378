#!/usr/bin/env python3
"""How much of an F1 difference between two models is the dev set's noise: a paired bootstrap
over questions of dev-v2.0-small.

    python3 examples/squad-minilm/compare.py DEV_JSON PREDICTIONS_A PREDICTIONS_B [RESAMPLES]

Per-question F1 as the official evaluate-v2.0.py computes it (normalised tokens, best over the
gold answers, exact match of "no answer" for unanswerable questions); prints both models' F1,
the difference B - A and its 95 % interval over RESAMPLES (default 10,000) resamplings of the
questions with replacement, and the share of resamplings in which B is not better.
"""
import collections
import json
import random
import re
import string
import sys


def normalize(s):
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(gold, pred):
    g, p = normalize(gold).split(), normalize(pred).split()
    if not g or not p:
        return float(g == p)
    common = sum((collections.Counter(g) & collections.Counter(p)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def per_question(dev, predictions):
    scores = {}
    for article in dev["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                golds = [a["text"] for a in qa["answers"] if normalize(a["text"])] or [""]
                scores[qa["id"]] = max(f1(g, predictions.get(qa["id"], "")) for g in golds)
    return scores


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    dev = json.load(open(sys.argv[1]))
    a = per_question(dev, json.load(open(sys.argv[2])))
    b = per_question(dev, json.load(open(sys.argv[3])))
    resamples = int(sys.argv[4]) if len(sys.argv) > 4 else 10_000
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
