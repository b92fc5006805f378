#!/usr/bin/env python3
"""Loads models that distill saved with Python transformers and compares their outputs with
reference activations.

    python3 scripts/check_transformers_load.py SAVED_DIR FIXTURE_DIR [SAVED_DIR FIXTURE_DIR ...]

Each SAVED_DIR is loaded with the class its config.json names; FIXTURE_DIR holds inputs.json
and reference.safetensors. Prints the largest difference per model; exits 1 if one exceeds 1e-4.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file

HEAD_OUTPUTS = {"start_logits": "start_logits", "end_logits": "end_logits", "logits": "logits", "token_logits": "logits", "mlm_logits": "logits"}


def check(saved, fixture):
    config = json.load(open(os.path.join(saved, "config.json")))
    cls = getattr(transformers, config["architectures"][0])
    model = cls.from_pretrained(saved, attn_implementation="eager").eval()
    inputs = {k: torch.tensor(v) for k, v in json.load(open(os.path.join(fixture, "inputs.json"))).items()}
    reference = load_file(os.path.join(fixture, "reference.safetensors"))
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
    worst = 0.0
    for i, h in enumerate(out.hidden_states):
        worst = max(worst, (h - reference[f"hidden_states.{i}"]).abs().max().item())
    for i, a in enumerate(out.attentions):
        worst = max(worst, (a - reference[f"attention_probs.{i}"]).abs().max().item())
    compared = 0
    for ref_name, field in HEAD_OUTPUTS.items():
        if ref_name in reference:
            worst = max(worst, (getattr(out, field) - reference[ref_name]).abs().max().item())
            compared += 1
    print(f"{cls.__name__} from {saved}: max |diff| {worst:.3e} ({compared} head outputs)")
    return worst


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    worst = max(check(args[i], args[i + 1]) for i in range(0, len(args), 2))
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
