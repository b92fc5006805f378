#!/usr/bin/env python3
"""A random-initialised RoBERTa with a byte-level BPE vocabulary of its own: a student whose
tokenizer differs from a WordPiece (BERT, MiniLM) teacher's, for prediction-layer distillation
across tokenizers.

    python3 scripts/make_bpe_student.py --out DIR --text FILE [FILE ...] \
        [--vocab-size 8000] [--layers 4] [--hidden 256] [--heads 4] [--intermediate 1024] [--seed 0]

The vocabulary is trained (Hugging Face `tokenizers`, byte-level BPE as RoBERTa's) on the texts
of FILEs: SQuAD JSON (contexts and questions), CoNLL (the words of each sentence) or plain text
lines. DIR gets config.json, model.safetensors (`RobertaModel`, no head: distill adds the task's),
vocab.json and merges.txt, in the layout transformers saves.
"""
import argparse
import json
import os

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import RobertaConfig, RobertaModel

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def texts(path):
    """The texts of a SQuAD JSON, CoNLL or plain-text file."""
    if path.endswith(".json"):
        for article in json.load(open(path))["data"]:
            for paragraph in article["paragraphs"]:
                yield paragraph["context"]
                for qa in paragraph["qas"]:
                    yield qa["question"]
        return
    words = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if path.endswith(".conll"):
            if not line.strip():
                if words:
                    yield " ".join(words)
                words = []
            elif not line.startswith("-DOCSTART-"):
                words.append(line.split()[0])
        elif line.strip():
            yield line
    if words:
        yield " ".join(words)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--text", nargs="+", required=True)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus = [t for path in args.text for t in texts(path)]
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(corpus, vocab_size=args.vocab_size, min_frequency=2, special_tokens=SPECIALS, show_progress=False)
    os.makedirs(args.out, exist_ok=True)
    tokenizer.save_model(args.out)

    torch.manual_seed(args.seed)
    config = RobertaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.intermediate,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    model = RobertaModel(config, add_pooling_layer=False)
    model.save_pretrained(args.out)
    parameters = sum(p.numel() for p in model.parameters())
    print(json.dumps({"out": args.out, "vocab_size": config.vocab_size, "texts": len(corpus), "parameters": parameters}))


if __name__ == "__main__":
    main()
