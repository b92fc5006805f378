#!/usr/bin/env python3
"""Writes the quickstart's small SQuAD 2.0 files (train.json, dev.json) from the paragraphs and
questions below, computing each answer_start from the text so the offsets are always right.
The text is the project's own; run: python3 examples/quickstart/make_data.py"""
import json
import os

PARAGRAPHS = [
    ("Knowledge distillation", "Knowledge distillation trains a small student model to imitate a large teacher model. The idea was popularised by Geoffrey Hinton in 2015, who called the teacher's softened output distribution dark knowledge. A temperature above one flattens the distribution so that the student also learns which wrong answers are almost right.",
     [("Who popularised knowledge distillation?", "Geoffrey Hinton"), ("In what year was the idea popularised?", "2015"), ("What did Hinton call the softened output distribution?", "dark knowledge"), ("What flattens the distribution?", "A temperature above one"), ("Who invented the transistor?", None)]),
    ("TinyBERT", "TinyBERT distils BERT in two stages. General distillation runs on a large corpus of raw text, and task-specific distillation runs on augmented task data. The student matches the teacher's embeddings, hidden states and attention scores, and finally its predictions. A four-layer TinyBERT keeps most of the accuracy of BERT-base while running about nine times faster.",
     [("How many stages does TinyBERT use?", "two"), ("What data does general distillation use?", "a large corpus of raw text"), ("How much faster is a four-layer TinyBERT?", "about nine times faster"), ("What does task-specific distillation run on?", "augmented task data"), ("What is the capital of TinyBERT?", None)]),
    ("Rust", "Rust is a systems programming language that guarantees memory safety without a garbage collector. Its compiler checks ownership and borrowing rules before a program runs. Version 1.0 was released in May 2015, and the language has since been adopted for browsers, operating systems and command-line tools.",
     [("What does Rust guarantee without a garbage collector?", "memory safety"), ("When was Rust 1.0 released?", "May 2015"), ("What does the compiler check?", "ownership and borrowing rules"), ("Who designed the Rust logo?", None)]),
    ("The lighthouse", "The old lighthouse on Keel Point was built in 1868 from granite quarried on the island. Its lamp burned whale oil until 1910, when it was replaced by a kerosene lamp. The keeper, Martha Lane, kept the light for thirty-one years and logged every ship that passed.",
     [("When was the lighthouse built?", "1868"), ("What was the lighthouse built from?", "granite"), ("What did the lamp burn until 1910?", "whale oil"), ("Who was the keeper?", "Martha Lane"), ("How long did Martha Lane keep the light?", "thirty-one years"), ("How tall is the lighthouse?", None)]),
    ("Bread", "Sourdough bread rises because of wild yeast and lactic acid bacteria living in a starter. Bakers feed the starter with flour and water every day. A long, cool fermentation gives the bread its sour taste and an open crumb, and baking in a covered pot keeps the steam that forms a crisp crust.",
     [("What makes sourdough rise?", "wild yeast and lactic acid bacteria"), ("What do bakers feed the starter with?", "flour and water"), ("What gives the bread its sour taste?", "A long, cool fermentation"), ("What keeps the steam during baking?", "a covered pot"), ("How much does a loaf cost?", None)]),
    ("The river", "The Velna river rises in the Grey Hills and flows two hundred kilometres to the northern sea. The town of Harrow grew up at its only ford, where traders crossed with salt and wool. A stone bridge replaced the ford in 1502, and the town's market is still held beside it every Saturday.",
     [("Where does the Velna rise?", "the Grey Hills"), ("How long is the Velna?", "two hundred kilometres"), ("What did traders cross with?", "salt and wool"), ("When did a stone bridge replace the ford?", "1502"), ("On what day is the market held?", "Saturday"), ("Who built the bridge?", None)]),
    ("Transformers", "A transformer encoder is a stack of layers, each made of self-attention followed by a feed-forward network. Self-attention lets every token look at every other token in the sequence. Layer normalisation and residual connections keep training stable, and BERT-base uses twelve such layers with a hidden size of 768.",
     [("What is each layer made of?", "self-attention followed by a feed-forward network"), ("How many layers does BERT-base use?", "twelve"), ("What is BERT-base's hidden size?", "768"), ("What keeps training stable?", "Layer normalisation and residual connections"), ("Who wrote the first transformer paper?", None)]),
    ("Chess", "In chess, castling is the only move in which two pieces move at once: the king and a rook. A player may castle only if neither piece has moved before and the king is not in check. The en passant rule lets a pawn capture another pawn that has just advanced two squares beside it.",
     [("Which two pieces move when castling?", "the king and a rook"), ("When may a player castle?", "only if neither piece has moved before and the king is not in check"), ("Which rule lets a pawn capture a pawn beside it?", "The en passant rule"), ("Who invented chess?", None)]),
]


def build(items):
    data = []
    for n, (title, context, questions) in enumerate(items):
        qas = []
        for k, (q, a) in enumerate(questions):
            qid = f"qs{n:02d}{k:02d}"
            if a is None:
                qas.append({"id": qid, "question": q, "answers": [], "is_impossible": True})
            else:
                start = context.index(a)
                qas.append({"id": qid, "question": q, "answers": [{"text": a, "answer_start": start}], "is_impossible": False})
        data.append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    return {"version": "v2.0", "data": data}


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "train.json"), "w") as f:
    json.dump(build(PARAGRAPHS[:6]), f, indent=1)
with open(os.path.join(here, "dev.json"), "w") as f:
    json.dump(build(PARAGRAPHS[6:]), f, indent=1)
print("wrote train.json and dev.json")
