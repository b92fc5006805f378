#!/usr/bin/env python3
"""The augmented training data plus the questions of unlabelled-v2.0.json, as one SQuAD 2.0 file,
for a distillation stage that learns from the teacher alone (w 1): the teacher labels every
window, so questions without answers are as good as labelled ones there. unlabelled-v2.0.json
holds 5,915 real SQuAD 2.0 dev questions on 20 articles with their answers removed (SQuAD 2.0
dev as a whole is half unanswerable), none of them the two that dev-v2.0-small.json asks about;
the teacher's data has 348 unanswerable questions in 12,314.

    python3 add_unlabelled.py AUGMENTED.json UNLABELLED.json OUT.json
"""
import json
import os
import sys

from prepare_data import HELD_OUT


def main():
    augmented_path, unlabelled_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    augmented = json.load(open(augmented_path))
    unlabelled = json.load(open(unlabelled_path))
    ids = {q["id"] for a in augmented["data"] for p in a["paragraphs"] for q in p["qas"]}
    data = list(augmented["data"])
    added = 0
    for article in unlabelled["data"]:
        if article["title"] in HELD_OUT:
            sys.exit(f"{unlabelled_path}: article {article['title']!r} is held out for evaluation")
        for p in article["paragraphs"]:
            for q in p["qas"]:
                if q["id"] in ids:
                    sys.exit(f"{unlabelled_path}: question id {q['id']!r} is already in {augmented_path}")
                if q.get("answers"):
                    sys.exit(f"{unlabelled_path}: question {q['id']!r} has answers; expected none")
                ids.add(q["id"])
                added += 1
        data.append(article)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"version": "v2.0", "data": data}, f)
    os.replace(tmp, out)
    print(f"{out}: {len(data)} articles, {len(ids)} questions ({added} unlabelled)")


if __name__ == "__main__":
    main()
