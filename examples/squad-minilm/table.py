#!/usr/bin/env python3
"""The results table of examples/squad-minilm: EM, F1, parameters, latency, speed-up and
training wall time of the teacher and the students, from the files run.sh wrote."""
import json
import os
import sys

out = sys.argv[1]


def load(path):
    return json.load(open(os.path.join(out, path))) if os.path.exists(os.path.join(out, path)) else None


def stages(name):
    """The stages a run's report.json lists (none before the run has finished)."""
    return (load(f"{name}/report.json") or {}).get("stages", [])


def wall(name):
    """Training seconds over every sitting: the stages' own clocks in report.json (kept in the
    checkpoints across resumes), else the last sitting's wall time that run.sh recorded."""
    finished = stages(name)
    if finished and all("seconds" in stage for stage in finished):
        return sum(stage["seconds"] for stage in finished)
    path = os.path.join(out, name, "wall-seconds")
    return sum(int(x) for x in open(path).read().split()) if os.path.exists(path) else None


def models():
    """(label, name) of every model in models.tsv, the list run.sh trains and evaluates."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.tsv")
    rows = []
    for number, line in enumerate(open(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            sys.exit(f"{path}:{number}: expected a directory name, a tab and a label")
        name, label = line.rstrip("\n").split("\t", 1)
        rows.append((label, name))
    return rows


rows = models()
# A run that starts from another run's stage also counts that stage's training time: C'' starts
# from C''s task-intermediate student.
starts_from = {"student-c-aug": ("student-c-nogen", "task-intermediate")}


def stage_seconds(name, stage):
    return sum(s.get("seconds", 0.0) for s in stages(name) if s.get("stage") == stage)


teacher_f1 = (load("eval-teacher/scores.json") or {}).get("f1")
print("| model | EM | F1 | % of teacher F1 | answerable F1 | best-threshold F1 | parameters | latency b1 x 384 (ms) | speed-up | paired speed-up (quartiles) | training wall time |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
fmt = lambda v, f: (f.format(v) if v is not None else "-")
for label, name in rows:
    scores = load(f"eval-{name}/scores.json") or {}
    if name == "teacher":
        # Every student's bench runs the teacher beside it; the teacher's row takes the first
        # student's (A's when A has run).
        benches = [load(f"bench-{n}.json") for _, n in rows[1:]]
        side, speed, paired = next((b for b in benches if b), {}).get("teacher", {}), 1.0, "-"
    else:
        b = load(f"bench-{name}.json") or {}
        side, speed = b.get("student", {}), b.get("student_speedup", {}).get("latency_ms_b1_s384")
        # Both models timed in alternation in one process (benches of before it have none).
        p = b.get("paired_speedup", {}).get("latency_ms_b1_s384")
        paired = f"{p['median']:.2f}x ({p['q1']:.2f}-{p['q3']:.2f})" if p else "-"
    f1 = scores.get("f1")
    share = 100 * f1 / teacher_f1 if f1 is not None and teacher_f1 else None
    w = wall(name)
    if w is not None and name in starts_from:
        w += stage_seconds(*starts_from[name])
    print(f"| {label} | {fmt(scores.get('exact'), '{:.2f}')} | {fmt(f1, '{:.2f}')} | {fmt(share, '{:.1f} %')} | {fmt(scores.get('HasAns_f1'), '{:.2f}')} | "
          f"{fmt(scores.get('best_f1'), '{:.2f}')} | {fmt(side.get('parameters'), '{:,}')} | {fmt(side.get('latency_ms_b1_s384'), '{:.1f}')} | "
          f"{fmt(speed, '{:.2f}x')} | {paired} | {fmt(w / 60 if w else None, '{:.0f} min')} |")
