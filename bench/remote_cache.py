#!/usr/bin/env python3
"""The shared cache on the sample platform: a cold build, a build from the remote cache
into a clean workspace (another folder, no local cache), and a build from the local cache.

    python3 bench/remote_cache.py [--isect PATH] [--runs N]

Starts WebDAV (Debian's nginx) with .ci/start-cache-servers, copies the repository twice
with `git clone`, runs `isect test --all` in each, and writes bench/results/remote-cache.json.
Each scenario's remote cache is fresh (its own prefix), so the runs are independent.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "8f1c2a9e4b7d6053a1f2e3d4c5b6a79881726354a5b6c7d8e9f0a1b2c3d4e5f6"


def run(isect: Path, ws: Path, env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [str(isect), "test", "--all", "--no-progress"],
        cwd=ws, env=env, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"isect failed in {ws}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def counts(stdout: str) -> str:
    return next((l for l in stdout.splitlines() if " steps: " in l), "?")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isect", type=Path, default=ROOT / "target/release/isect")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/remote-cache.json")
    args = ap.parse_args()
    if not args.isect.exists():
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    subprocess.run([str(ROOT / ".ci/start-cache-servers")], cwd=ROOT, check=True)
    results = {"cold": [], "remote_hit": [], "local_hit": []}
    notes = {}
    for _ in range(args.runs):
        prefix = uuid.uuid4().hex[:8]
        env = dict(os.environ,
                   ISECT_REMOTE_CACHE=f"webdav+http://127.0.0.1:8089/cache/{prefix}",
                   ISECT_CACHE_HMAC_KEY=KEY)
        env.pop("ISECT_CACHE_READONLY", None)
        with tempfile.TemporaryDirectory() as tmp:
            first, second = Path(tmp) / "a", Path(tmp) / "b"
            for ws in (first, second):
                subprocess.run(["git", "clone", "-q", str(ROOT), str(ws)], check=True)
            t, out = run(args.isect, first, env)
            results["cold"].append(t)
            notes["cold"] = counts(out)
            t, out = run(args.isect, second, env)
            results["remote_hit"].append(t)
            notes["remote_hit"] = counts(out)
            t, out = run(args.isect, second, env)
            results["local_hit"].append(t)
            notes["local_hit"] = counts(out)
    summary = {k: {"median_s": round(statistics.median(v), 3), "runs_s": [round(x, 3) for x in v],
                   "steps": notes[k]} for k, v in results.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": "python3 bench/remote_cache.py",
        "workspace": "the sample platform, isect test --all",
        "remote": "WebDAV (nginx-light) on 127.0.0.1, HMAC-signed entries",
        "loadavg": os.getloadavg(),
        "results": summary,
    }, indent=2) + "\n")
    print("| build | median | steps |\n|---|---:|---|")
    for k, v in summary.items():
        print(f"| {k} | {v['median_s']:.2f} s | {v['steps']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
