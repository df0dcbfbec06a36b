#!/usr/bin/env python3
"""Dependency matching time (scan::deps) against a 50,000-record OSV database.

    python3 bench/scan_deps.py                  # generate, import, time, write results
    python3 bench/scan_deps.py --records 50000 --runs 5 --out bench/results/scan-deps.json

1. Generates 50,000 synthetic PyPI-shaped OSV records (the real PyPI database has about
   that many): details of 0.4-3 KB, 2-8 references, CVE aliases, CVSS 3.1 vectors on
   most, 1-3 affected intervals, PYSEC-style enumerated `versions` on half. They name
   about 10,000 packages, among them the 60 real package names pinned in scenario 2,
   whose ranges are built so that some pins are affected. Deterministic (seeded).
2. Writes them as `<src>/PyPI/all.zip` and imports that with `deps_scan import` (the
   library's `vulndb::import`: every record is parsed and validated).
3. Times `cargo run --release --example deps_scan -- <db> <workspace> services/…` in two
   scenarios, each a fresh process (so database loading is included):
   - `platform`: this repo's services as they are. They pin no third-party packages (Go
     services require only the first-party platform module, replaced by a local path;
     Python services install the first-party library with `-e`), so nothing is matched
     and the database is never opened: this is what the sample platform costs.
   - `platform+deps`: a copy of the services' lockfiles where every Python service also
     pins 40 of 60 popular PyPI packages (requirements.txt), so that the database is
     loaded and every pin is matched. `vulndb import` saved the name index next to the
     zip (`all.zip.isect-index`), so only the records of pinned packages are inflated.
   - `platform+deps, no saved index`: the same with the saved index deleted before each
     run (a database downloaded by osv-scanner itself): every record is inflated and
     its package names read, on all cores, and the index is saved again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REAL = [
    "requests", "urllib3", "jinja2", "flask", "django", "numpy", "pandas", "pyyaml",
    "cryptography", "pillow", "lxml", "werkzeug", "sqlalchemy", "aiohttp", "certifi",
    "idna", "charset-normalizer", "setuptools", "pip", "wheel", "paramiko", "pyjwt",
    "markupsafe", "click", "itsdangerous", "gunicorn", "uvicorn", "fastapi", "starlette",
    "pydantic", "httpx", "h11", "anyio", "tornado", "twisted", "scrapy", "celery", "redis",
    "pymongo", "psycopg2", "protobuf", "grpcio", "tensorflow", "torch", "scipy",
    "matplotlib", "bleach", "babel", "docutils", "pygments", "mako", "ecdsa", "rsa",
    "pyopenssl", "oauthlib", "requests-oauthlib", "python-multipart", "jupyter-server",
    "notebook", "ansible",
]

WORDS = (
    "the a an attacker remote crafted request header parser buffer overflow denial of "
    "service injection template sandbox escape via allows to cause arbitrary code "
    "execution when processing untrusted input in function module version before "
    "affected users should upgrade redirect credentials leak proxy authorization "
    "regular expression backtracking memory exhaustion signature verification bypass"
).split()

VECTORS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
]


def ver(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(0, 6), rng.randint(0, 30), rng.randint(0, 12))


def vs(t: tuple[int, int, int]) -> str:
    return ".".join(map(str, t))


def record(rng: random.Random, i: int, name: str) -> dict:
    year = 2015 + i % 10
    if i % 3 == 0:
        rid = f"PYSEC-{year}-{i}"
    else:
        chars = "23456789cfghjmpqrvwx"
        rid = "GHSA-" + "-".join("".join(rng.choice(chars) for _ in range(4)) for _ in range(3))
    events = []
    lo = (0, 0, 0)
    intervals = rng.choice([1, 1, 1, 2, 3])
    for _ in range(intervals):
        a = (lo[0] + rng.randint(0, 2), rng.randint(0, 20), rng.randint(0, 9))
        b = (a[0], a[1] + rng.randint(1, 8), rng.randint(0, 9))
        events.append({"introduced": "0" if not events and rng.random() < 0.5 else vs(a)})
        if rng.random() < 0.1:
            events.append({"last_affected": vs(b)})
        else:
            events.append({"fixed": vs(b)})
        lo = (b[0] + 1, 0, 0)
    affected = {
        "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    if i % 2 == 0:
        affected["versions"] = sorted({vs(ver(rng)) for _ in range(rng.randint(5, 60))})
    details = " ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 450)))
    rec = {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": f"{year + 1}-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
        "published": f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
        "aliases": [f"CVE-{year}-{10000 + i}"],
        "summary": " ".join(rng.choice(WORDS) for _ in range(8)),
        "details": details,
        "affected": [affected],
        "references": [
            {"type": rng.choice(["WEB", "ADVISORY", "FIX", "PACKAGE"]),
             "url": f"https://example.org/{name}/advisories/{i}/{k}"}
            for k in range(rng.randint(2, 8))
        ],
        "database_specific": {"severity": rng.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"])},
    }
    if rng.random() < 0.7:
        rec["severity"] = [{"type": "CVSS_V3", "score": rng.choice(VECTORS)}]
    if i % 500 == 0:
        rec["withdrawn"] = rec["modified"]
    return rec


def generate(src: Path, n: int) -> int:
    rng = random.Random(42)
    synthetic = [f"synthpkg-{k:05d}" for k in range(10_000)]
    zpath = src / "PyPI" / "all.zip"
    zpath.parent.mkdir(parents=True, exist_ok=True)
    raw = 0
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        seen = set()
        for i in range(n):
            # about 1.2% of the records name the 60 real packages (about 10 each)
            name = REAL[i % len(REAL)] if i % 83 == 0 else rng.choice(synthetic)
            rec = record(rng, i, name)
            while rec["id"] in seen:
                rec["id"] += "x"
            seen.add(rec["id"])
            data = json.dumps(rec, indent=2).encode()
            raw += len(data)
            z.writestr(f"{rec['id']}.json", data)
    return raw


def platform_services() -> list[str]:
    return sorted(f"services/{p.name}" for p in (ROOT / "services").iterdir() if p.is_dir())


def with_deps(ws: Path, services: list[str]) -> int:
    """Copy the services' lockfiles into `ws`, adding 40 pins per Python service."""
    rng = random.Random(7)
    pinned = 0
    for svc in services:
        dst = ws / svc
        dst.mkdir(parents=True, exist_ok=True)
        for name in ("go.mod", "requirements.txt", "poetry.lock", "uv.lock", "package-lock.json"):
            if (ROOT / svc / name).is_file():
                shutil.copy(ROOT / svc / name, dst / name)
        req = dst / "requirements.txt"
        if req.is_file():
            pins = rng.sample(REAL, 40)
            with req.open("a") as f:
                for p in pins:
                    f.write(f"{p}=={vs(ver(rng))}\n")
            pinned += len(pins)
    return pinned


def run_scan(db: Path, ws: Path, services: list[str], runs: int, drop_index: bool = False) -> dict:
    exe = ROOT / "target" / "release" / "examples" / "deps_scan"
    results = []
    for _ in range(runs):
        if drop_index:  # as a database downloaded by osv-scanner, never imported by isect
            (db / "PyPI" / "all.zip.isect-index").unlink(missing_ok=True)
        out = subprocess.run([str(exe), str(db), str(ws), *services], check=True,
                             capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    med = {k: statistics.median(r[k] for r in results)
           for k in ("seconds", "load_seconds", "warm_seconds")}
    first = results[0]
    return {**{k: first[k] for k in ("packages", "records", "findings")},
            **{f"median_{k}": round(v, 4) for k, v in med.items()},
            "runs": runs, "all_seconds": [round(r["seconds"], 4) for r in results]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench/results/scan-deps.json"))
    ap.add_argument("--no-cargo", action="store_true")
    args = ap.parse_args()

    if not args.no_cargo:
        subprocess.run(["cargo", "build", "--release", "--example", "deps_scan"], cwd=ROOT, check=True)
    exe = ROOT / "target" / "release" / "examples" / "deps_scan"
    tmp = Path(tempfile.mkdtemp(prefix="isect-scan-deps-"))
    try:
        src, db, ws = tmp / "src", tmp / "db", tmp / "ws"
        t = time.perf_counter()
        raw = generate(src, args.records)
        gen_s = time.perf_counter() - t
        imp = json.loads(subprocess.run([str(exe), "import", str(src), str(db)], check=True,
                                        capture_output=True, text=True).stdout)
        services = platform_services()
        plain = run_scan(db, ROOT, services, args.runs)
        pinned = with_deps(ws, services)
        deps = run_scan(db, ws, services, args.runs)
        cold = run_scan(db, ws, services, args.runs, drop_index=True)
        result = {
            "command": f"cargo run --release --example deps_scan -- <db> <workspace> {' '.join(services)}",
            "records": args.records,
            "db_zip_bytes": (db / "PyPI" / "all.zip").stat().st_size,
            "db_uncompressed_bytes": raw,
            "generate_seconds": round(gen_s, 2),
            "import_seconds": round(imp["seconds"], 4),
            "services": len(services),
            "scenarios": {
                "platform": plain,
                "platform+deps": {**deps, "pins_added": pinned},
                "platform+deps, no saved index": {**cold, "pins_added": pinned},
            },
            "machine": {"cpus": os.cpu_count(), "platform": sys.platform},
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
