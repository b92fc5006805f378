#!/usr/bin/env python3
"""The results table of examples/squad-minilm: EM, F1, parameters, latency, speed-up and
training wall time of the teacher and the three students, from the files run.sh wrote."""
import json
import os
import sys

out = sys.argv[1]


def load(path):
    return json.load(open(os.path.join(out, path))) if os.path.exists(os.path.join(out, path)) else None


def wall(name):
    """Training seconds over every sitting: the stages' own clocks in report.json (kept in the
    checkpoints across resumes), else the last sitting's wall time that run.sh recorded."""
    report = load(f"{name}/report.json")
    if report and all("seconds" in stage for stage in report.get("stages", [])) and report.get("stages"):
        return sum(stage["seconds"] for stage in report["stages"])
    path = os.path.join(out, name, "wall-seconds")
    return sum(int(x) for x in open(path).read().split()) if os.path.exists(path) else None


rows = [("teacher (MiniLM-L6-H384, fine-tuned)", "teacher", None), ("A: 3 layers, labels only", "student-a", "bench-student-a.json"),
        ("B: 3 layers, prediction-layer distillation", "student-b", "bench-student-b.json"), ("C: 3 layers, TinyBERT recipe", "student-c", "bench-student-c.json")]
print("| model | EM | F1 | parameters | latency b1 s384 (ms) | speed-up | training wall time |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for label, name, bench in rows:
    scores = (load(f"eval-{name}/scores.json") or {})
    b = load(bench) if bench else load("bench-student-a.json")
    side = (b or {}).get("student" if bench else "teacher", {})
    speed = (b or {}).get("student_speedup", {}).get("latency_ms_b1_s384") if bench else 1.0
    w = wall(name)
    fmt = lambda v, f: (f.format(v) if v is not None else "-")
    print(f"| {label} | {fmt(scores.get('exact'), '{:.2f}')} | {fmt(scores.get('f1'), '{:.2f}')} | {fmt(side.get('parameters'), '{:,}')} | "
          f"{fmt(side.get('latency_ms_b1_s384'), '{:.1f}')} | {fmt(speed, '{:.2f}x')} | {fmt(w / 60 if w else None, '{:.0f} min')} |")
