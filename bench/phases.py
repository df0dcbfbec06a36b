#!/usr/bin/env python3
"""Where an isect run spends its wall time, phase by phase (Linux, root, `perf`).

    python3 bench/phases.py --tree /tmp/isect-bench-large [--isect target/release/isect] [--runs 9]

Puts uprobes on the entry and return of isect's phase functions (found by name in the
binary's symbol table, so no rebuild and no change to isect), records `--runs` runs of
`isect build --all -j 4 --no-progress` in TREE (a workspace bench/run.py left with --keep),
and prints, per function, the median start and end (ms since exec) and the median of the
summed time of its calls. Functions not found in the binary (renamed, inlined) are skipped.
The probes are removed at the end. Uprobes cost a few µs per call: fine for functions
called once per run, visible on those called per step.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GROUP = "isectph"

# (label, demangled name). Order is only for display of ties.
FUNCTIONS = [
    ("plan_stage", "isect::cli::run::plan_stage"),
    ("Session::open", "isect::cli::session::Session::open"),
    ("Workspace::load", "isect::workspace::projects::Workspace::load"),
    ("Session::pipelines", "isect::cli::session::Session::pipelines"),
    ("evaluate_all", "isect::engine::evaluate::evaluate_all"),
    ("Plan::build", "isect::plan::graph::Plan::build"),
    ("FileIndex::load", "isect::cache::index::FileIndex::load"),
    ("FileTree::walk", "isect::cache::tree::FileTree::walk"),
    ("prepare", "isect::exec::prepare::prepare"),
    ("FileTree::matching", "isect::cache::tree::FileTree::matching"),
    ("FileTree::prefetch", "isect::cache::tree::FileTree::prefetch"),
    ("Manifest::key", "isect::cache::key::Manifest::key"),
    ("prune_index", "isect::cache::tree::FileTree::prune_index"),
    ("try_hit", "isect::exec::scheduler::try_hit"),
    ("save_state", "isect::cli::run::save_state"),
    ("FileIndex::save", "isect::cache::index::FileIndex::save"),
]


def sh(cmd: list[str], **kw) -> str:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def text_delta(binary: Path) -> int:
    """Virtual address minus file offset of the executable segment (uprobes take offsets)."""
    for line in sh(["readelf", "-lW", str(binary)]).splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[2], 16) - int(f[1], 16)
    raise SystemExit("no executable LOAD segment")


def symbols(binary: Path) -> dict[str, int]:
    out = {}
    for line in sh(["nm", "-C", str(binary)]).splitlines():
        m = re.match(r"([0-9a-f]+) [tT] (.*)$", line)
        if m and m.group(2) not in out:
            out[m.group(2)] = int(m.group(1), 16)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, required=True, help="an isect workspace")
    ap.add_argument("--isect", type=Path, default=REPO / "target" / "release" / "isect")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--args", default="build --all -j 4 --no-progress")
    a = ap.parse_args()
    binary = a.isect.resolve()
    delta = text_delta(binary)
    syms = symbols(binary)
    probes = {}
    subprocess.run(["perf", "probe", "-q", "-d", f"{GROUP}:*"], capture_output=True)
    try:
        for i, (label, name) in enumerate(FUNCTIONS):
            if name not in syms:
                print(f"skipped (not in the binary): {name}", file=sys.stderr)
                continue
            off = syms[name] - delta
            sh(["perf", "probe", "-q", "-x", str(binary), "-a", f"{GROUP}:f{i}_in=0x{off:x}"])
            sh(["perf", "probe", "-q", "-x", str(binary), "-a",
                f"{GROUP}:f{i}_out=0x{off:x}%return"])
            probes[f"f{i}"] = label
        per_run: list[tuple[float, dict[str, tuple[float, float, float, int]]]] = []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(a.runs):
                data = Path(tmp) / f"{r}.data"
                subprocess.run(["perf", "record", "-q", "-o", str(data), "-e", f"{GROUP}:*",
                                "-e", "syscalls:sys_exit_execve",
                                "-e", "syscalls:sys_enter_exit_group",
                                str(binary), *a.args.split()],
                               cwd=a.tree, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                text = sh(["perf", "script", "-i", str(data), "-F", "tid,time,event"])
                per_run.append(parse(text))
    finally:
        subprocess.run(["perf", "probe", "-q", "-d", f"{GROUP}:*"], capture_output=True)

    med = statistics.median
    print(f"total (exec to exit): median {med(t for t, _ in per_run):.1f} ms over "
          f"{len(per_run)} runs: {', '.join(f'{t:.0f}' for t, _ in per_run)}")
    print(f"\n| function | start ms | end ms | sum of calls ms | calls |\n|---|---|---|---|---|")
    rows = []
    for key, label in probes.items():
        got = [res[key] for _, res in per_run if key in res]
        if got:
            rows.append((med(g[0] for g in got), label, med(g[1] for g in got),
                         med(g[2] for g in got), got[0][3]))
    for start, label, end, total, calls in sorted(rows):
        print(f"| {label} | {start:.1f} | {end:.1f} | {total:.1f} | {calls} |")
    return 0


def parse(text: str) -> tuple[float, dict[str, tuple[float, float, float, int]]]:
    """(total ms, {probe: (first entry ms, last return ms, summed ms, calls)})."""
    events = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 3:
            events.append((int(f[0]), float(f[1].rstrip(":")), f[2].rstrip(":").split(":")[-1]))
    t0 = next(t for _, t, e in events if e == "sys_exit_execve")
    t1 = max(t for _, t, e in events if e == "sys_enter_exit_group")
    open_calls: dict[tuple[int, str], list[float]] = {}
    res: dict[str, list] = {}
    for tid, t, e in events:
        if e.endswith("_in"):
            open_calls.setdefault((tid, e[:-3]), []).append(t)
        elif "_out" in e:
            name = e.split("_out")[0]
            stack = open_calls.get((tid, name))
            if not stack:
                continue
            start = stack.pop()
            r = res.setdefault(name, [start, t, 0.0, 0])
            r[0], r[1] = min(r[0], start), max(r[1], t)
            r[2] += t - start
            r[3] += 1
    return (t1 - t0) * 1000, {k: ((v[0] - t0) * 1000, (v[1] - t0) * 1000, v[2] * 1000, v[3])
                               for k, v in res.items()}


if __name__ == "__main__":
    sys.exit(main())
