#!/usr/bin/env python3
"""The PyTorch side of scripts/bench-vs-pytorch.sh: the same measurements as
`distill bench --steps` on the same checkpoint, in eager PyTorch (f32) on CPU, or on a GPU
with --device cuda (scripts/gpu-bench.sh).

    python3 scripts/bench_torch.py MODEL_DIR [--batch 8] [--seq 128] [--threads N] [--iterations 3] [--device cpu] [--attention sdpa] [--autocast none|bf16|f16]

Attention as users get it: transformers' default (SDPA) for the forward passes and the
prediction-layer step; eager only for the intermediate step, which needs the attention maps
(`--attention eager` uses eager everywhere, as this script did before).
"""
import argparse
import contextlib
import copy
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F
import transformers as tf


def timed(fn, iterations, sync):
    fn()
    sync()
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        sync()  # GPU work is queued: time it to its end
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def flops(cfg, b, l, layers):
    h, f = cfg.hidden_size, cfg.intermediate_size
    return layers * (2 * b * l * (4 * h * h + 2 * h * f) + 4 * b * l * l * h)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--student-layers", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"])
    # Mixed precision as `distill bench --steps --precision`: the student's passes under autocast
    # (its weights and AdamW stay f32), the teacher in f32.
    p.add_argument("--autocast", default="none", choices=["none", "bf16", "f16"])
    a = p.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    # f32 as distill computes: no TF32 shortcut in matmuls on the GPU
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    def load(attention):
        teacher = tf.BertForQuestionAnswering.from_pretrained(a.model, attn_implementation=attention).to(dev).eval()
        student = copy.deepcopy(teacher)
        n = teacher.config.num_hidden_layers
        keep = [i * n // a.student_layers for i in range(a.student_layers)]
        student.bert.encoder.layer = torch.nn.ModuleList([student.bert.encoder.layer[i] for i in keep])
        student.config.num_hidden_layers = a.student_layers
        student.train()
        return teacher, student

    teacher, student = load(a.attention)
    # The intermediate step compares attention maps, which only eager attention returns.
    maps_teacher, maps_student = (teacher, student) if a.attention == "eager" else load("eager")
    cfg = teacher.config
    n = cfg.num_hidden_layers
    ids = torch.randint(1000, cfg.vocab_size, (a.batch, a.seq)).to(dev)
    mask = torch.ones_like(ids)
    gold = torch.zeros(a.batch, dtype=torch.long, device=dev)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-5, weight_decay=0.01)
    maps_opt = opt if maps_student is student else torch.optim.AdamW(maps_student.parameters(), lr=1e-5, weight_decay=0.01)

    def forward():
        with torch.no_grad():
            teacher(input_ids=ids, attention_mask=mask)

    def student_forward():
        with torch.no_grad():
            student.eval()
            student(input_ids=ids, attention_mask=mask)
            student.train()

    T, w = 1.5, 0.75
    half = {"bf16": torch.bfloat16, "f16": torch.float16}.get(a.autocast)
    # f16 would also scale its loss (torch.amp.GradScaler); a scale multiplies one scalar, so
    # the timings leave it out.
    student_pass = (lambda: torch.autocast(device_type=dev.type, dtype=half)) if half else contextlib.nullcontext

    def prediction_step():
        with torch.no_grad():
            t = teacher(input_ids=ids, attention_mask=mask)
        with student_pass():
            s = student(input_ids=ids, attention_mask=mask)
        loss = 0
        for sl, tl in ((s.start_logits.float(), t.start_logits), (s.end_logits.float(), t.end_logits)):
            kd = F.kl_div(F.log_softmax(sl / T, -1), F.log_softmax(tl / T, -1), reduction="batchmean", log_target=True) * T * T
            loss = loss + (w * kd + (1 - w) * F.cross_entropy(sl, gold)) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()

    def intermediate_step():
        with torch.no_grad():
            t = maps_teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
        with student_pass():
            s = maps_student(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
        s = type(s)(hidden_states=[h.float() for h in s.hidden_states], attentions=[m.float() for m in s.attentions])
        pairs = [((i + 1), (i + 1) * n // a.student_layers) for i in range(a.student_layers)]
        loss = F.mse_loss(s.hidden_states[0], t.hidden_states[0])
        for si, ti in pairs:
            loss = loss + F.mse_loss(s.hidden_states[si], t.hidden_states[ti]) / len(pairs)
            loss = loss + F.mse_loss(s.attentions[si - 1], t.attentions[ti - 1]) / len(pairs)
        maps_opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(maps_student.parameters(), 1.0)
        maps_opt.step()

    x = torch.full((1024, 1024), 0.5, device=dev)
    y = torch.full((1024, 1024), 0.25, device=dev)
    gemm = timed(lambda: x @ y, a.iterations, sync)
    fwd = timed(forward, a.iterations, sync)
    sfwd = timed(student_forward, a.iterations, sync)
    pred = timed(prediction_step, a.iterations, sync)
    inter = timed(intermediate_step, a.iterations, sync)
    tf_ = flops(cfg, a.batch, a.seq, n)
    sf = flops(cfg, a.batch, a.seq, a.student_layers)
    step_flops = tf_ + 3 * sf
    print(json.dumps({
        "torch": torch.__version__, "device": str(dev), "threads": a.threads, "batch": a.batch, "seq": a.seq, "attention": a.attention, "autocast": a.autocast,
        "forward_ms": fwd * 1e3, "forward_gflops": tf_ / fwd / 1e9, "student_forward_ms": sfwd * 1e3,
        "student_speedup": fwd / sfwd, "flops_ratio": tf_ / sf,
        "prediction_step_ms": pred * 1e3, "prediction_step_gflops": step_flops / pred / 1e9,
        "intermediate_step_ms": inter * 1e3, "intermediate_step_gflops": step_flops / inter / 1e9,
        "gemm_gflops": 2 * 1024 ** 3 / gemm / 1e9,
        # The whole process (the interpreter and torch included), as distill's figure is.
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, indent=2))


if __name__ == "__main__":
    main()
