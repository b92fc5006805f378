#!/usr/bin/env python3
"""The teacher's training data for examples/squad-minilm: the first 10 articles of SQuAD 2.0
train plus the visible SQuAD 1.1 dev articles without the two that dev-v2.0-small.json asks
about (Normans, Computational_complexity_theory), as one SQuAD 2.0 file.

    python3 prepare_data.py SHARED_SQUAD_DIR OUT.json
"""
import json
import sys

HELD_OUT = {"Normans", "Computational_complexity_theory"}


def main():
    squad, out = sys.argv[1], sys.argv[2]
    train = json.load(open(f"{squad}/train-v2.0-10articles.json"))
    dev = json.load(open(f"{squad}/dev-v1.1-visible.json"))
    data = list(train["data"])
    for article in dev["data"]:
        if article["title"] in HELD_OUT:
            continue
        for p in article["paragraphs"]:
            for q in p["qas"]:
                q.setdefault("is_impossible", False)
        data.append(article)
    merged = {"version": "v2.0", "data": data}
    json.dump(merged, open(out, "w"))
    n = sum(len(p["qas"]) for a in data for p in a["paragraphs"])
    print(f"{out}: {len(data)} articles, {n} questions")


if __name__ == "__main__":
    main()
