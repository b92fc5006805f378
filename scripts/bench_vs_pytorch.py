#!/usr/bin/env python3
"""distill against eager PyTorch on the same checkpoint, shapes and threads, measured in
alternation: each round runs `distill bench --steps` and scripts/bench_torch.py once per shape,
the order of the two flipped every round, so a slow spell of a shared machine lands on both
sides of a round rather than on one whole side. Each round gives a ratio (distill / PyTorch
time; below 1.0 distill is faster) per measure; the median and quartiles of those ratios are
reported with the processor and thread count. Called by scripts/bench-vs-pytorch.sh.

    python3 scripts/bench_vs_pytorch.py --distill target/release/distill --model DIR
        [--rounds 5] [--iterations 5] [--threads N] [--shapes 8x128,16x256,1x384] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

MEASURES = ["forward_ms", "student_forward_ms", "prediction_step_ms", "intermediate_step_ms"]


def processor():
    """Vendor, family, model, name and the instruction sets that decide CPU kernels."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            first = f.read().split("\n\n")[0]
        for line in first.splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    return {
        "vendor": info.get("vendor_id"), "family": info.get("cpu family"), "model": info.get("model"),
        "name": info.get("model name"),
        "flags": sorted(f for f in flags if f in {"avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8"}),
    }


def quartiles(values):
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--distill", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--student-layers", type=int, default=3)
    p.add_argument("--shapes", default="8x128,16x256,1x384")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.rounds < 1 or a.iterations < 1:
        sys.exit("--rounds and --iterations must be at least 1")
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    common = ["--student-layers", str(a.student_layers), "--iterations", str(a.iterations)]
    rounds = []
    for r in range(a.rounds):
        for batch, seq in shapes:
            shape = ["--batch", str(batch), "--seq", str(seq)]
            sides = {
                "distill": [a.distill, "bench", "--steps", "--teacher", a.model, *shape, *common],
                "pytorch": [sys.executable, os.path.join(os.path.dirname(__file__), "bench_torch.py"), a.model, *shape, *common, "--threads", str(a.threads)],
            }
            order = ["distill", "pytorch"] if r % 2 == 0 else ["pytorch", "distill"]
            got = {side: run_json(sides[side], env) for side in order}
            rounds.append({"round": r + 1, "batch": batch, "seq": seq, "first": order[0], **got})
            print(f"round {r + 1}/{a.rounds} {batch}x{seq}: " + ", ".join(f"{m} {got['distill'][m] / got['pytorch'][m]:.2f}" for m in MEASURES), file=sys.stderr)

    summary = []
    for batch, seq in shapes:
        these = [x for x in rounds if (x["batch"], x["seq"]) == (batch, seq)]
        for m in MEASURES + ["peak_memory_mb"]:
            ratios = [x["distill"][m] / x["pytorch"][m] for x in these if x["distill"].get(m) and x["pytorch"].get(m)]
            if not ratios:
                continue
            q1, med, q3 = quartiles(ratios)
            summary.append({
                "batch": batch, "seq": seq, "measure": m, "ratio_median": med, "ratio_q1": q1, "ratio_q3": q3, "rounds": len(ratios),
                "distill_median": statistics.median(x["distill"][m] for x in these), "pytorch_median": statistics.median(x["pytorch"][m] for x in these),
            })
    torch_side = rounds[0]["pytorch"]
    report = {
        "processor": processor(), "threads": a.threads, "rounds": a.rounds, "iterations": a.iterations, "model": a.model,
        "torch": torch_side["torch"], "pytorch_attention": f"{torch_side['attention']} (eager for the intermediate step)",
        "summary": summary, "per_round": rounds,
    }
    if a.json:
        print(json.dumps(report, indent=2))
        return
    cpu = report["processor"]
    print(f"{cpu['name']} ({cpu['vendor']}, family {cpu['family']}, model {cpu['model']}; {', '.join(cpu['flags']) or 'no wide vector flags'})")
    print(f"{a.threads} threads, {a.rounds} alternating rounds of {a.iterations} iterations, torch {report['torch']}, attention {report['pytorch_attention']}")
    print("ratio = distill / PyTorch (time, or peak memory); below 1.0 distill is better")
    print(f"{'shape':<9}{'measure':<24}{'distill':>10}{'pytorch':>10}{'median':>8}{'q1':>7}{'q3':>7}")
    for s in summary:
        unit = "MB" if s["measure"] == "peak_memory_mb" else "ms"
        print(f"{s['batch']}x{s['seq']:<7}{s['measure']:<24}{s['distill_median']:>8.1f}{unit}{s['pytorch_median']:>8.1f}{unit}{s['ratio_median']:>8.2f}{s['ratio_q1']:>7.2f}{s['ratio_q3']:>7.2f}")


if __name__ == "__main__":
    main()
