#!/usr/bin/env python3
"""Daemonless image build vs `docker build`, for a FROM-scratch image of one static binary.

    python3 bench/image_build.py                         # auth-service, best of 5
    python3 bench/image_build.py --service siem --runs 10

Steps:
  1. Build a static Go binary of a service of this repo:
     `cd services/<svc> && CGO_ENABLED=0 go build -trimpath -o <tmp>/ctx/server .`
  2. `cargo build --release --example oci_build` (skip with --no-cargo).
  3. Measure in one run, with hyperfine when installed, else best (and median) of --runs:
       - isect, layout only: `oci_build server <fresh dir>` (an OCI image layout; no daemon);
       - isect, gzip level 6 (the default is level 1, as ko and crane use);
       - isect + docker load: the same, plus the `docker load` archive, plus `docker load -i`
         (the image ends up in the engine, as with `docker build`);
       - docker build --no-cache of `FROM scratch / COPY server /server / ENTRYPOINT ["/server"]`;
       - docker build with its cache (after one warm build).
  4. Check that the isect digests are identical in every run (reproducibility).
Prints a markdown table and writes bench/results/image-build.json. Needs go, docker (an
engine that answers `docker info`) and Python 3.9+.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
EXAMPLE = REPO / "target" / "release" / "examples" / "oci_build"
DOCKERFILE = 'FROM scratch\nCOPY server /server\nENTRYPOINT ["/server"]\n'
TAG = "isect-bench/image-build"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)


def timed(cmd: list[str], prepare=None) -> tuple[float, str]:
    if prepare:
        prepare()
    start = time.perf_counter()
    out = run(cmd)
    return time.perf_counter() - start, out.stdout


def measure(name: str, cmd: list[str], runs: int, prepare=None) -> dict:
    times, outputs = [], []
    for _ in range(runs):
        seconds, stdout = timed(cmd, prepare)
        times.append(seconds)
        outputs.append(stdout)
    log(f"{name}: best {min(times):.3f}s median {statistics.median(times):.3f}s")
    return {"name": name, "command": " ".join(cmd), "runs": runs, "times": times,
            "best": min(times), "median": statistics.median(times), "outputs": outputs}


def hyperfine(scenarios: list[tuple[str, str, str]], runs: int, export: Path) -> list[dict]:
    cmd = ["hyperfine", "--runs", str(runs), "--warmup", "1", "--export-json", str(export), "-N"]
    for name, command, prepare in scenarios:
        cmd += ["--command-name", name]
        if prepare:
            cmd += ["--prepare", prepare]
        cmd.append(command)
    subprocess.run(cmd, check=True)
    data = json.loads(export.read_text())
    return [{"name": r["command"], "command": scenarios[i][1], "runs": len(r["times"]),
             "times": r["times"], "best": r["min"], "median": r["median"], "outputs": []}
            for i, r in enumerate(data["results"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--service", default="auth-service")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-cargo", action="store_true")
    ap.add_argument("--out", default=str(BENCH / "results" / "image-build.json"))
    args = ap.parse_args()

    run(["docker", "info"])
    if not args.no_cargo:
        log("cargo build --release --example oci_build")
        run(["cargo", "build", "--release", "--example", "oci_build"], cwd=REPO)

    tmp = Path(tempfile.mkdtemp(prefix="isect-image-bench-"))
    ctx = tmp / "ctx"
    ctx.mkdir()
    svc = REPO / "services" / args.service
    log(f"go build {svc} (CGO_ENABLED=0)")
    env = dict(os.environ, CGO_ENABLED="0")
    run(["go", "build", "-trimpath", "-o", str(ctx / "server"), "."], cwd=svc, env=env)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    binary_size = (ctx / "server").stat().st_size
    layout, archive = tmp / "layout", tmp / "image.tar"

    def fresh() -> None:
        shutil.rmtree(layout, ignore_errors=True)
        archive.unlink(missing_ok=True)

    isect = [str(EXAMPLE), str(ctx / "server"), str(layout)]
    isect_load = ["sh", "-c", f"{EXAMPLE} {ctx / 'server'} {layout} --tag {TAG}:isect "
                  f"--docker-archive {archive} && docker load -q -i {archive}"]
    no_cache = ["docker", "build", "--no-cache", "-q", "-t", f"{TAG}:docker", str(ctx)]
    cached = ["docker", "build", "-q", "-t", f"{TAG}:docker", str(ctx)]
    warm = run(cached)  # warm the cache for the cached scenario
    builder = "BuildKit" if "DEPRECATED" not in warm.stderr else "legacy builder (no buildx plugin)"

    tool = "hyperfine" if shutil.which("hyperfine") else f"best of {args.runs} (hyperfine not installed)"
    if shutil.which("hyperfine"):
        prep = f"rm -rf {layout} {archive}"
        results = hyperfine([
            ("isect (OCI layout, no daemon)", " ".join(isect), prep),
            ("isect, gzip level 6", " ".join(isect + ["--level", "6"]), prep),
            ("isect + docker load", " ".join(isect_load), prep),
            ("docker build --no-cache", " ".join(no_cache), ""),
            ("docker build (cached)", " ".join(cached), ""),
        ], args.runs, tmp / "hyperfine.json")
        digests = {json.loads(run(isect).stdout)["digest"] for _ in range(3) if fresh() is None}
    else:
        results = [
            measure("isect (OCI layout, no daemon)", isect, args.runs, fresh),
            measure("isect, gzip level 6", isect + ["--level", "6"], args.runs, fresh),
            measure("isect + docker load", isect_load, args.runs, fresh),
            measure("docker build --no-cache", no_cache, args.runs),
            measure("docker build (cached)", cached, args.runs),
        ]
        digests = {json.loads(o.splitlines()[0])["digest"] for o in results[0]["outputs"]}
        digests |= {json.loads(o.splitlines()[0])["digest"] for o in results[2]["outputs"]}
    internal = json.loads(run(isect).stdout) if fresh() is None else {}

    docker_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", f"{TAG}:docker"]).stdout.strip()
    isect_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", f"{TAG}:isect"]).stdout.strip()
    run_out = subprocess.run(["docker", "run", "--rm", f"{TAG}:isect", "--help"],
                             capture_output=True, text=True, timeout=30)
    for tag in ("isect", "docker"):
        subprocess.run(["docker", "rmi", "-f", f"{TAG}:{tag}"], capture_output=True)

    base = next(r["best"] for r in results if r["name"] == "docker build --no-cache")
    print(f"\nFROM-scratch image of {args.service} ({binary_size / 1e6:.1f} MB static binary), {tool}, "
          f"docker build with the {builder}\n")
    print("| build | best (s) | median (s) | vs docker build --no-cache |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['best']:.3f} | {r['median']:.3f} | {r['best'] / base:.2f}x |")
    print(f"\nisect digests over all runs: {sorted(digests)} (identical: {len(digests) == 1})")
    print(f"isect in-process build time: {internal.get('seconds', 0):.3f}s; image ID {isect_id}, "
          f"docker build's {docker_id}")

    versions = {
        "docker": run(["docker", "version", "-f", "{{.Server.Version}}"]).stdout.strip(),
        "go": run(["go", "version"]).stdout.strip(),
        "rustc": run(["rustc", "--version"]).stdout.strip(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for r in results:
        r.pop("outputs", None)
    out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions,
        "service": args.service,
        "binary_bytes": binary_size,
        "method": tool,
        "dockerfile": DOCKERFILE,
        "docker_builder": builder,
        "results": results,
        "isect_digests": sorted(digests),
        "reproducible": len(digests) == 1,
        "isect_in_process_seconds": internal.get("seconds"),
        "isect_image_size": internal.get("size"),
        "isect_image_id": isect_id,
        "docker_image_id": docker_id,
        "isect_image_help_exit_code": run_out.returncode,  # `server --help` in the image: Go flag usage exits 2
    }, indent=2) + "\n")
    log(f"wrote {out}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
