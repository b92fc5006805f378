#!/usr/bin/env python3
"""Mixed precision against f32 on the same binary, checkpoint, shape and threads, measured in
alternation: each round runs `distill bench --steps --precision f32` and `--precision P` (the
order flipped every round) and gives a ratio (P / f32 step time; below 1.0 the half precision is
faster) per distillation step; the median and quartiles of the ratios are printed with the
processor. The teacher's forward pass stays f32 in both, so only the steps are compared.

    python3 scripts/bench_precision.py --distill target/release/distill --model DIR
        [--precision bf16] [--rounds 5] [--iterations 3] [--shape 8x128] [--threads N] [--json]
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from bench_vs_pytorch import processor, quartiles, run_json  # noqa: E402

MEASURES = ["prediction_step_ms", "intermediate_step_ms", "hidden_states_step_ms"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--distill", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--precision", default="bf16", choices=["bf16", "f16"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--shape", default="8x128")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.rounds < 1 or a.iterations < 1:
        sys.exit("--rounds and --iterations must be at least 1")
    batch, seq = (int(x) for x in a.shape.split("x"))
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    command = [a.distill, "bench", "--steps", "--teacher", a.model, "--batch", str(batch), "--seq", str(seq), "--iterations", str(a.iterations)]
    rounds = []
    for r in range(a.rounds):
        order = ["f32", a.precision] if r % 2 == 0 else [a.precision, "f32"]
        got = {side: run_json([*command, "--precision", side], env) for side in order}
        rounds.append({"round": r + 1, "first": order[0], **got})
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{m} {got[a.precision][m] / got['f32'][m]:.2f}" for m in MEASURES), file=sys.stderr)
    summary = []
    for m in MEASURES:
        ratios = [x[a.precision][m] / x["f32"][m] for x in rounds]
        q1, med, q3 = quartiles(ratios)
        summary.append({"measure": m, "ratio_median": med, "ratio_q1": q1, "ratio_q3": q3,
                        "f32_median_ms": statistics.median(x["f32"][m] for x in rounds),
                        f"{a.precision}_median_ms": statistics.median(x[a.precision][m] for x in rounds)})
    report = {"processor": processor(), "threads": a.threads, "shape": a.shape, "rounds": a.rounds, "iterations": a.iterations,
              "precision": a.precision, "summary": summary, "per_round": rounds}
    if a.json:
        print(json.dumps(report, indent=2))
        return
    cpu = report["processor"]
    print(f"{cpu['name']} ({cpu['vendor']}, family {cpu['family']}, model {cpu['model']}; {', '.join(cpu['flags']) or 'no wide vector flags'})")
    print(f"{a.threads} threads, {a.shape}, {a.rounds} alternating rounds of {a.iterations} iterations; ratio = {a.precision} / f32 step time")
    print(f"{'measure':<24}{'f32':>10}{a.precision:>10}{'median':>8}{'q1':>7}{'q3':>7}")
    for s in summary:
        print(f"{s['measure']:<24}{s['f32_median_ms']:>8.0f}ms{s[a.precision + '_median_ms']:>8.0f}ms{s['ratio_median']:>8.2f}{s['ratio_q1']:>7.2f}{s['ratio_q3']:>7.2f}")


if __name__ == "__main__":
    main()
