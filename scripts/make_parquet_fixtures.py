#!/usr/bin/env python3
"""Writes the Parquet fixtures under tests/fixtures/parquet/ with pyarrow, in the layouts the
Hugging Face hub stores datasets in, so the Rust readers are tested on files made by the
reference implementation:

    python3 -m pip install pyarrow
    python3 scripts/make_parquet_fixtures.py

- pairs.parquet: a GLUE-style pair task (sentence1, sentence2, label as int64), snappy;
- scores.parquet: regression (text, label as float64), uncompressed;
- ner.parquet: tokens (list<string>) and ner_tags (list<int64>, ids into ner-labels.json), zstd;
- squad.parquet: the 14 questions of ../shared/data/squad/sample-v2.0.json in the `squad_v2`
  layout (id, title, context, question, answers struct of text and answer_start lists), snappy.
"""
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "parquet")
SHARED = os.path.join(HERE, "..", "..", "shared", "data")


def main():
    os.makedirs(OUT, exist_ok=True)
    pairs = pa.table({
        "sentence1": ["The cat sat.", "A man is playing a guitar.", "It rains.", "Stocks fell sharply."],
        "sentence2": ["A cat was sitting.", "Someone plays music.", "The sun shines.", "Markets dropped."],
        "label": pa.array([1, 1, 0, 1], pa.int64()),
        "idx": pa.array([0, 1, 2, 3], pa.int32()),
    })
    pq.write_table(pairs, os.path.join(OUT, "pairs.parquet"), compression="snappy")
    scores = pa.table({"text": ["great", "fine", "awful"], "label": pa.array([4.5, 3.0, 0.25], pa.float64())})
    pq.write_table(scores, os.path.join(OUT, "scores.parquet"), compression="none")
    labels = ["O", "B-location", "I-location", "B-person"]
    ner = pa.table({
        "id": ["0", "1"],
        "tokens": pa.array([["Empire", "State", "Building", "is", "tall"], ["Ask", "Alice"]], pa.list_(pa.string())),
        "ner_tags": pa.array([[1, 2, 2, 0, 0], [0, 3]], pa.list_(pa.int64())),
    })
    pq.write_table(ner, os.path.join(OUT, "ner.parquet"), compression="zstd")
    with open(os.path.join(OUT, "ner-labels.json"), "w") as f:
        json.dump(labels, f)
    squad = json.load(open(os.path.join(SHARED, "squad", "sample-v2.0.json")))
    rows = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                rows["id"].append(qa["id"])
                rows["title"].append(article.get("title", ""))
                rows["context"].append(paragraph["context"])
                rows["question"].append(qa["question"])
                answers = [] if qa.get("is_impossible") else qa["answers"]
                rows["answers"].append({"text": [a["text"] for a in answers], "answer_start": [a["answer_start"] for a in answers]})
    answers_type = pa.struct([("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))])
    table = pa.table({k: (pa.array(v, answers_type) if k == "answers" else v) for k, v in rows.items()})
    pq.write_table(table, os.path.join(OUT, "squad.parquet"), compression="snappy")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
