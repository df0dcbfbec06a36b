#!/usr/bin/env python3
"""Secrets-scan throughput: isect's scanner vs detect-secrets on the synthetic monorepo.

    python3 bench/scan_secrets.py                      # large preset, 3 runs each
    python3 bench/scan_secrets.py --keep /tmp/isect-bench-large --runs 3

Steps:
  1. Generate the tree with the shared kit's gen_monorepo.py (../shared/bench/, falling back
     to the copy in bench/), preset `large` by default (500 services x 200 files, ~4 KB each).
  2. Plant a few secrets, generated here at random (never committed), in a few files.
  3. Warm the page cache (read every file once), then measure, best of --runs:
       - isect: `target/release/examples/secrets_scan <dir>` (built-in rules, all cores),
         which prints {files, bytes, findings, seconds, mb_per_s};
       - detect-secrets: `detect-secrets scan --all-files <dir>` (all plugins, its default
         worker processes). It is slow, so by default it scans a subset of the tree
         (--ds-services services); isect is measured on that subset too, for a like-for-like
         figure. --ds-services 0 runs detect-secrets on the whole tree.
Prints a markdown table and writes bench/results/scan-secrets.json. Needs Python 3.11+
and `pip install detect-secrets`; runs `cargo build --release --example secrets_scan` first
unless --no-cargo.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED_GEN = REPO.parent / "shared" / "bench" / "gen_monorepo.py"
LOCAL_GEN = BENCH / "gen_monorepo.py"
EXAMPLE = REPO / "target" / "release" / "examples" / "secrets_scan"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)


def planted_secrets(rng: random.Random) -> dict[str, str]:
    """Secrets in the shapes real providers use, from random characters."""
    def pick(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))
    alnum = string.ascii_letters + string.digits
    b64 = alnum + "+/"
    begin, end = "-----BEGIN RSA " + "PRIVATE KEY-----", "-----END RSA " + "PRIVATE KEY-----"
    pem = "\n".join(pick(b64, 64) for _ in range(8))
    return {
        "aws": f'aws_access_key_id = "{"AKIA" + pick(string.ascii_uppercase + "234567", 16)}"\n',
        "github": f'GITHUB_TOKEN = "{"ghp_" + pick(alnum, 36)}"\n',
        "slack": "SLACK_HOOK = \"https://hooks.slack.com/services/"
                 f"T{pick(string.ascii_uppercase, 8)}/B{pick(string.ascii_uppercase, 10)}/{pick(alnum, 24)}\"\n",
        "private-key": f"{begin}\n{pem}\n{end}\n",
        "password": f'db_password = "{pick(alnum, 24)}"\n',
    }


def generate(outdir: Path, preset: str) -> None:
    gen = SHARED_GEN if SHARED_GEN.exists() else LOCAL_GEN
    log(f"generating {preset} tree with {gen} into {outdir}")
    out = run([sys.executable, str(gen), str(outdir), "--preset", preset])
    log(out.stdout.strip())


def plant(tree: Path, services: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    planted = []
    for i, (kind, text) in enumerate(planted_secrets(rng).items()):
        svc = services[(i * 3) % max(1, min(len(services), 20))]
        files = sorted((tree / "services" / svc / "src").rglob("*.*"))
        target = files[i % len(files)]
        with open(target, "a", encoding="utf-8") as f:
            f.write("\n" + text)
        planted.append(f"{kind}: {target.relative_to(tree)}")
    return planted


def warm(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                total += len(f.read())
    return total


def best_of(runs: int, fn) -> tuple[float, list[float], object]:
    times, last = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, last


def isect_scan(path: Path) -> dict:
    return json.loads(run([str(EXAMPLE), str(path)]).stdout.strip().splitlines()[-1])


def detect_secrets_scan(path: Path) -> int:
    out = run(["detect-secrets", "scan", "--all-files", "."], cwd=path)
    results = json.loads(out.stdout).get("results", {})
    return sum(len(v) for v in results.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="large", choices=["seed", "large"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ds-services", type=int, default=25,
                    help="services detect-secrets scans (0 = the whole tree)")
    ap.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    ap.add_argument("--no-cargo", action="store_true")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "scan-secrets.json")
    a = ap.parse_args()

    if shutil.which("detect-secrets") is None:
        sys.exit("detect-secrets is not installed: pip install detect-secrets")
    if not a.no_cargo:
        log("cargo build --release --example secrets_scan")
        run(["cargo", "build", "--release", "--example", "secrets_scan"], cwd=REPO)

    tmp = None
    if a.keep:
        tree = a.keep
        marker = tree.with_name(tree.name + ".preset")
        if not (marker.exists() and marker.read_text() == a.preset):
            shutil.rmtree(tree, ignore_errors=True)
            tree.with_name(tree.name + ".planted").unlink(missing_ok=True)
            generate(tree, a.preset)
            marker.write_text(a.preset)
    else:
        tmp = tempfile.mkdtemp(prefix="isect-secrets-bench-")
        tree = Path(tmp) / "tree"
        generate(tree, a.preset)
    try:
        services = (tree / "services.txt").read_text().split()
        # Bookkeeping lives beside the tree, not in it, so that it is not scanned.
        record = tree.with_name(tree.name + ".planted")
        if record.exists():
            planted = record.read_text().splitlines()
        else:
            planted = plant(tree, services, a.seed)
            record.write_text("\n".join(planted))
        # The subset: copies of the first services (where the secrets were planted).
        subset = tree / "services" if a.ds_services == 0 else tree.with_name(tree.name + "-subset")
        if a.ds_services:
            if subset.exists():
                shutil.rmtree(subset)
            subset.mkdir()
            for svc in services[: a.ds_services]:
                shutil.copytree(tree / "services" / svc, subset / svc)
        log("warming the page cache")
        tree_bytes = warm(tree)

        log(f"isect, whole tree, best of {a.runs}")
        t_full, times_full, full = best_of(a.runs, lambda: isect_scan(tree))
        log(f"isect, subset, best of {a.runs}")
        t_sub, times_sub, sub = best_of(a.runs, lambda: isect_scan(subset))
        log(f"detect-secrets, subset, best of {a.runs}")
        t_ds, times_ds, ds_findings = best_of(a.runs, lambda: detect_secrets_scan(subset))
        ds_version = run(["detect-secrets", "--version"]).stdout.strip()

        sub_mb = sub["bytes"] / 1e6
        rows = [
            ("isect (whole tree)", full["files"], full["bytes"] / 1e6, t_full, full["findings"]),
            ("isect (subset)", sub["files"], sub_mb, t_sub, sub["findings"]),
            (f"detect-secrets {ds_version} (subset)", sub["files"], sub_mb, t_ds, ds_findings),
        ]
        print(f"\nSecrets scan, preset {a.preset}, {os.cpu_count()} cores, warm page cache, "
              f"best of {a.runs} (wall clock, process start included)\n")
        print("| tool | files | MB | seconds | MB/s | findings |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, files, mb, t, n in rows:
            print(f"| {name} | {files} | {mb:.1f} | {t:.3f} | {mb / t:.1f} | {n} |")
        print(f"\nisect vs detect-secrets on the same subset: {t_ds / t_sub:.0f}x faster")
        print("planted: " + "; ".join(planted))

        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({
            "preset": a.preset,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "loadavg": os.getloadavg()},
            "tree_bytes": tree_bytes,
            "planted": planted,
            "isect_full": {"best_s": t_full, "runs_s": times_full, "report": full,
                           "mb_per_s": full["bytes"] / 1e6 / t_full},
            "isect_subset": {"best_s": t_sub, "runs_s": times_sub, "report": sub,
                             "mb_per_s": sub_mb / t_sub},
            "detect_secrets_subset": {"version": ds_version, "best_s": t_ds, "runs_s": times_ds,
                                      "findings": ds_findings, "mb_per_s": sub_mb / t_ds},
            "subset_services": a.ds_services,
        }, indent=2) + "\n")
        log(f"wrote {a.out}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
