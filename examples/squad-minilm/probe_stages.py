#!/usr/bin/env python3
"""How far each stage's student is from the teacher on dev questions, and what its QA head makes
of it: why the intermediate stages can lower the hidden-state loss and still hurt the answers.

    python3 examples/squad-minilm/probe_stages.py OUT DEV_JSON [N]

Over the first N questions of DEV_JSON (default 48; one window of 384 tokens each), for every
model: the MSE of student layer k's hidden states against teacher layer k * N / M, rounded down,
for a teacher of N layers and a student of M (the uniform mapping the recipe trains with: 2k for
3 layers of 6) over the real tokens, and from the QA head the mean no-answer score
(start + end logit of [CLS]), the mean best span score (best start + best end logit over the
context, an upper bound of the best valid span) and the share of windows whose no-answer score
beats that bound, that is, where the model cannot but abstain. Models: the 3-layer student as
distill builds it before any training (teacher layers 1, 3 and 5 with the teacher's embeddings
and head), each stage's student of the TinyBERT-recipe runs (OUT/student-c*/stage-*/student), and
the final students. One JSON line per model.
"""
import glob
import json
import os
import sys

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer


def questions(dev, n):
    out = []
    for article in json.load(open(dev))["data"]:
        for para in article["paragraphs"]:
            out.extend((qa["question"], para["context"]) for qa in para["qas"])
    return out[:n]


def copied_student(teacher_dir, layers=3):
    """Teacher layers i * N / layers (counted from 0), as `--student-layers` copies them."""
    model = AutoModelForQuestionAnswering.from_pretrained(teacher_dir).eval()
    n = model.config.num_hidden_layers
    model.bert.encoder.layer = torch.nn.ModuleList(model.bert.encoder.layer[i * n // layers] for i in range(layers))
    model.config.num_hidden_layers = layers
    return model


def probe(model, enc, context_mask, teacher_out=None):
    """The model's outputs and its row; layer MSEs only when there is a teacher to compare with."""
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
    real = enc["attention_mask"].bool()
    row = {}
    if teacher_out is not None:
        m, n = len(out.hidden_states) - 1, len(teacher_out.hidden_states) - 1
        for k in range(1, m + 1):
            diff = out.hidden_states[k] - teacher_out.hidden_states[k * n // m]
            row[f"layer{k}_mse"] = float((diff[real] ** 2).mean())
    no_answer = out.start_logits[:, 0] + out.end_logits[:, 0]
    best_span = out.start_logits.masked_fill(~context_mask, -1e9).max(1).values + out.end_logits.masked_fill(~context_mask, -1e9).max(1).values
    row.update(no_answer=float(no_answer.mean()), best_span_bound=float(best_span.mean()), must_abstain=float((no_answer > best_span).float().mean()))
    return out, row


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, dev = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 48
    teacher_dir = os.path.join(out_dir, "teacher", "student")
    tok = AutoTokenizer.from_pretrained(teacher_dir)
    pairs = questions(dev, n)
    enc = tok([q for q, _ in pairs], [c for _, c in pairs], truncation="only_second", max_length=384, padding=True, return_tensors="pt")
    context_mask = torch.tensor([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(pairs))])
    teacher_out, row = probe(AutoModelForQuestionAnswering.from_pretrained(teacher_dir).eval(), enc, context_mask)
    print(json.dumps({"model": "teacher", **row}))
    # (name, directory); the untrained copy is built here, so it has no directory.
    models = [("copied student, untrained", None)]
    models += [(os.path.relpath(d, out_dir), d) for d in sorted(glob.glob(os.path.join(out_dir, "student-c*", "stage-*", "student")))]
    models += [(os.path.relpath(os.path.dirname(d), out_dir), d) for d in sorted(glob.glob(os.path.join(out_dir, "student-*", "student")))]
    for name, directory in models:
        model = copied_student(teacher_dir) if directory is None else AutoModelForQuestionAnswering.from_pretrained(directory).eval()
        _, row = probe(model, enc, context_mask, teacher_out)
        print(json.dumps({"model": name, **row}), flush=True)


if __name__ == "__main__":
    main()
