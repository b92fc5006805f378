#!/usr/bin/env python3
"""Scores tag sequences with seqeval (PyPI), the reference entity-level NER metric, for the
Rust tests to compare against.

    python3 scripts/seqeval_reference.py CASES.json

CASES.json: a list of {"gold": [[tag, ...], ...], "predicted": [[...], ...], "strict": bool}.
Prints one JSON list: per case, micro precision/recall/F1 and per type precision/recall/F1/support,
in seqeval's default mode, or in mode="strict" with scheme IOB2 where "strict" is true.
"""
import json
import sys
import warnings

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

warnings.filterwarnings("ignore")  # seqeval warns on zero divisions; they score 0 as distill does.


def score(case):
    kw = {"mode": "strict", "scheme": IOB2} if case["strict"] else {}
    gold, pred = case["gold"], case["predicted"]
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **kw)
    per_type = {k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "support": int(v["support"])}
                for k, v in report.items() if k not in ("micro avg", "macro avg", "weighted avg")}
    return {
        "precision": precision_score(gold, pred, zero_division=0, **kw),
        "recall": recall_score(gold, pred, zero_division=0, **kw),
        "f1": f1_score(gold, pred, zero_division=0, **kw),
        "per_type": per_type,
    }


def main():
    cases = json.load(open(sys.argv[1]))
    print(json.dumps([score(c) for c in cases]))


if __name__ == "__main__":
    main()
