#!/usr/bin/env python3
"""The one-file target, measured in pairs (Python 3.11 stdlib only).

    python3 bench/run.py --preset large --keep /tmp/isect-bench-large --no-cargo   # once
    python3 bench/one_file.py --tree /tmp/isect-bench-large --pairs 40 --settle 3

The issue's target: a one-file change costs the step itself plus at most 20 ms over a no-op
run. Both sides of that are a few ms on top of a ~300 ms walk of 100,000 files whose own
run-to-run spread is tens of ms, so two separate hyperfine series (bench/run.py) cannot
settle it. This script measures what the target is about, the difference, in pairs:

  pair i   a no-op run and a one-file run (a byte appended to one source file), back to
           back, in random order, each after the same pause (--settle s: the changed file is
           out of isect's 2 s racy window, so its digest is recorded and the index shard saved;
           0: right after the edit); then the step alone, as the service's own command.

Drift (the machine getting busier or quieter) hits both runs of a pair alike, so the
difference of a pair is much steadier than either run. Prints the median difference with a
bootstrap 95% interval, the median step alone, and whether the whole interval is inside the
target (met), outside it (missed), or straddles it (not settled: run more pairs). Writes the
raw pairs to bench/results/one-file-<preset>-<settle>s.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import (  # noqa: E402  (run.py sits beside this file)
    ONE_FILE_SLACK_S, STEP_CMD, cpu_model, log, pick_changed_file, services_of, tool_version)


def timed(cmd: list[str] | str, cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"`{cmd}` failed ({r.returncode}):\n{r.stderr}")
    return elapsed


def bootstrap_median(xs: list[float], rounds: int = 4000, seed: int = 7) -> tuple[float, float]:
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(rounds))
    return meds[int(rounds * 0.025)], meds[int(rounds * 0.975)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, required=True,
                    help="a tree bench/run.py generated and kept (--keep)")
    ap.add_argument("--isect", type=Path, default=BENCH.parent / "target" / "release" / "isect")
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--settle", type=float, default=3.0, metavar="SECONDS",
                    help="pause before every timed run (0: right after the edit)")
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()

    tree = a.tree.resolve()
    isect = [str(a.isect.resolve()), "build", "--all", "-j", str(a.jobs), "--no-progress"]
    services = services_of(tree)
    svc, changed = pick_changed_file(tree, services)
    step_alone = f"cd services/{shlex.quote(svc)} && {STEP_CMD}"
    pause = lambda: time.sleep(a.settle)  # noqa: E731

    def edit() -> None:
        with open(tree / changed, "ab") as f:
            f.write(b"x")

    log(f"{len(services)} services; the changed file: {changed}; {a.pairs} pairs, "
        f"{a.settle:g} s before each timed run")
    # Up to date, with every digest recorded (outside the racy window).
    timed(isect, tree)
    time.sleep(2.5)
    timed(isect, tree)
    load_before = os.getloadavg()
    rng = random.Random(1)
    pairs = []
    for i in range(a.pairs):
        noop_first = rng.random() < 0.5
        t = {}
        for which in (["noop", "one"] if noop_first else ["one", "noop"]):
            if which == "one":
                edit()
            pause()
            t[which] = timed(isect, tree)
        t["step"] = timed(step_alone, tree)
        t["diff"] = t["one"] - t["noop"]
        pairs.append(t)
        log(f"pair {i + 1}/{a.pairs}: no-op {t['noop'] * 1e3:.1f} ms, one-file "
            f"{t['one'] * 1e3:.1f} ms, diff {t['diff'] * 1e3:+.1f} ms, step {t['step'] * 1e3:.1f} ms")
    load_after = os.getloadavg()

    med = statistics.median
    diffs = [p["diff"] for p in pairs]
    lo, hi = bootstrap_median(diffs)
    step = med(p["step"] for p in pairs)
    limit = step + ONE_FILE_SLACK_S
    verdict = "met" if hi <= limit else "MISSED" if lo > limit else "not settled (run more pairs)"
    ms = lambda x: f"{x * 1e3:.1f} ms"  # noqa: E731
    print(f"\n### one-file change, {a.settle:g} s after the edit: {a.pairs} pairs\n")
    print("| | median | 95% interval of the median |")
    print("|---|---|---|")
    print(f"| no-op run | {ms(med(p['noop'] for p in pairs))} | |")
    print(f"| one-file run | {ms(med(p['one'] for p in pairs))} | |")
    print(f"| one-file minus no-op, per pair | {ms(med(diffs))} | {ms(lo)} .. {ms(hi)} |")
    print(f"| step alone | {ms(step)} | |")
    print(f"\n- target: one-file minus no-op <= step alone + {ONE_FILE_SLACK_S * 1e3:.0f} ms "
          f"= {ms(limit)}: {verdict}")
    print(f"- load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")

    marker = tree / ".bench-preset"
    preset = marker.read_text().strip() if marker.is_file() else "tree"
    out = a.out or BENCH / "results" / f"one-file-{preset}-{a.settle:g}s.json"
    out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(),
                    "loadavg_before": load_before, "loadavg_after": load_after},
        "isect": tool_version([isect[0], "--version"]),
        "command": shlex.join(isect), "step_alone": step_alone, "changed_file": changed,
        "settle_s": a.settle, "pairs": pairs,
        "summary": {"noop_median": med(p["noop"] for p in pairs),
                    "one_median": med(p["one"] for p in pairs),
                    "diff_median": med(diffs), "diff_ci95": [lo, hi], "step_median": step,
                    "limit": limit, "verdict": verdict},
    }, indent=2) + "\n")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
