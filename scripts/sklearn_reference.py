#!/usr/bin/env python3
"""Classification and regression metrics from scikit-learn and scipy, the references the Rust
tests compare distill's metrics against.

    python3 scripts/sklearn_reference.py CASES.json

CASES.json: {"classification": [{"predicted": [...], "gold": [...], "labels": N}, ...],
"regression": [{"predicted": [...], "gold": [...]}, ...]}. Prints the same structure with
accuracy, macro_f1 and matthews_correlation per classification case, and pearson, spearman and
mse per regression case.
"""
import json
import sys

from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, mean_squared_error


def main():
    cases = json.load(open(sys.argv[1]))
    out = {"classification": [], "regression": []}
    for c in cases["classification"]:
        labels = list(range(c["labels"]))
        out["classification"].append({
            "accuracy": accuracy_score(c["gold"], c["predicted"]),
            "macro_f1": f1_score(c["gold"], c["predicted"], labels=labels, average="macro", zero_division=0),
            "matthews_correlation": matthews_corrcoef(c["gold"], c["predicted"]),
        })
    for c in cases["regression"]:
        out["regression"].append({
            "pearson": float(pearsonr(c["predicted"], c["gold"])[0]),
            "spearman": float(spearmanr(c["predicted"], c["gold"])[0]),
            "mse": mean_squared_error(c["gold"], c["predicted"]),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
