#!/usr/bin/env python3
"""Loads the models that run.sh exported with Python transformers (AutoModelForQuestionAnswering
and AutoTokenizer on the saved directory, nothing else) and answers dev questions with them.

    python3 examples/squad-minilm/check_transformers.py OUT DEV_JSON [N]

For each model directory OUT/NAME/student that has an evaluation OUT/eval-NAME/predictions.json,
takes the first N answerable questions (default 100) and compares the best non-null span that
transformers' logits give (windows of 384 tokens, stride 128, answers up to 30 tokens, as
`distill eval`) with distill's answer. Exits 1 if a model fails to load or agrees on fewer than
98 % of the questions (the two can differ only where two spans score within float rounding).
"""
import json
import os
import sys

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer


def answerable(dev, n):
    out = []
    for article in json.load(open(dev))["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                if qa["answers"] and len(out) < n:
                    out.append((qa["id"], qa["question"], para["context"]))
    return out


def best_span(model, tok, question, context):
    # distill's --doc-stride is the distance between window starts (as in BERT's scripts);
    # the tokenizer's stride is the overlap of consecutive windows.
    room = 384 - len(tok(question, add_special_tokens=False)["input_ids"]) - 3
    enc = tok(question, context, truncation="only_second", max_length=384, stride=max(room - 128, 0), return_overflowing_tokens=True,
              return_offsets_mapping=True, padding=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")
    enc.pop("overflow_to_sample_mapping", None)
    with torch.no_grad():
        out = model(**enc)
    best = (float("-inf"), "")
    for w in range(offsets.shape[0]):
        in_context = torch.tensor([s == 1 for s in enc.sequence_ids(w)])
        n = in_context.shape[0]
        # Score of every span (start i, end j): context tokens only, i <= j < i + 30.
        scores = out.start_logits[w, :n, None] + out.end_logits[w, None, :n]
        allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(29) & in_context[:, None] & in_context[None, :]
        scores = scores.masked_fill(~allowed, float("-inf"))
        flat = int(scores.argmax())
        i, j = divmod(flat, n)
        if scores[i, j].item() > best[0]:
            best = (scores[i, j].item(), context[offsets[w, i, 0]:offsets[w, j, 1]])
    return best[1]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, dev = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    questions = answerable(dev, n)
    worst = 1.0
    for name in sorted(os.listdir(out)):
        model_dir = os.path.join(out, name, "student")
        predictions = os.path.join(out, f"eval-{name}", "predictions.json")
        if not (os.path.isdir(model_dir) and os.path.isfile(predictions)):
            continue
        model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
        tok = AutoTokenizer.from_pretrained(model_dir)
        theirs = json.load(open(predictions))
        # distill's predictions.json holds "" for questions it judged unanswerable: compare the span
        # only where distill gave one.
        compared = [(q, c, theirs[i]) for i, q, c in questions if theirs.get(i)]
        same = sum(best_span(model, tok, q, c).strip() == answer.strip() for q, c, answer in compared)
        share = same / max(len(compared), 1)
        worst = min(worst, share)
        print(f"{name}: {type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters; "
              f"same answer as distill on {same} of {len(compared)} answerable questions ({100 * share:.1f} %)")
    sys.exit(0 if worst >= 0.98 else 1)


if __name__ == "__main__":
    main()
