#!/usr/bin/env python3
# Copied verbatim from the team's shared benchmark kit (../shared/bench/gen_monorepo.py) so that
# bench/ is self-contained; keep in sync with the kit rather than editing it here.
"""Deterministic synthetic polyglot monorepo generator.

Layout:
  services/<name>/src/<sub>/.../<file>.<ext>   F files per service, ~4 KB each
  libs/<lib>/src/<file>.<ext>                   a few shared library folders
Every file has distinct content (unique header + slice of a seeded text pool),
so a content-addressed cache cannot dedupe them.

Usage: gen_monorepo.py OUTDIR --services N --files F [--seed S] [--libs L] [--lib-files K]
Presets: --preset seed (23 x 200) | --preset large (500 x 200)
"""
import argparse
import os
import random

WORDS = ("auth token policy scan alert ingest audit vault secret detect rule engine "
         "event stream queue graph asset risk score report notify gateway proxy cert "
         "key rotate sign verify hash index query cache store batch worker sched "
         "config schema parse render export import tenant user role session limit").split()
LANGS = [("go", "go"), ("rust", "rs"), ("python", "py"), ("ts", "ts"), ("java", "java")]
SUBDIRS = ["api", "core", "core/model", "db", "util", "handlers", "handlers/v1", "tests"]
KEYWORDS = {
    "go": ["func", "return", "if", "err", "nil", "struct", "package", "var"],
    "rs": ["fn", "let", "mut", "impl", "match", "pub", "struct", "Result"],
    "py": ["def", "return", "self", "None", "class", "import", "if", "for"],
    "ts": ["function", "const", "let", "export", "interface", "return", "async", "await"],
    "java": ["public", "class", "void", "return", "new", "static", "final", "private"],
}


def make_pool(rng, size):
    vocab = WORDS + [w.upper() for w in WORDS[:10]] + ["{", "}", "(", ")", ";", "=", "+", "0", "1", "42"]
    out = []
    n = 0
    line = []
    while n < size:
        w = rng.choice(vocab)
        line.append(w)
        if len(line) >= rng.randint(4, 14):
            s = "    " * rng.randint(0, 3) + " ".join(line) + "\n"
            out.append(s)
            n += len(s)
            line = []
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--preset", choices=["seed", "large"])
    ap.add_argument("--services", type=int, default=23)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--libs", type=int, default=4)
    ap.add_argument("--lib-files", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--size", type=int, default=4096, help="mean file size in bytes")
    a = ap.parse_args()
    if a.preset == "seed":
        a.services, a.files = 23, 200
    elif a.preset == "large":
        a.services, a.files = 500, 200

    rng = random.Random(a.seed)
    pool = make_pool(rng, 1 << 20)  # 1 MiB text pool
    plen = len(pool)
    total_files = 0
    total_bytes = 0

    def write_file(path, tag, ext):
        nonlocal total_files, total_bytes
        size = rng.randint(a.size - 1024, a.size + 1024)
        off = rng.randrange(0, plen - size - 1)
        kw = KEYWORDS[ext if ext in KEYWORDS else "go"]
        header = f"// {tag} {rng.getrandbits(64):016x} {' '.join(rng.sample(kw, 4))}\n"
        body = pool[off:off + size - len(header)]
        data = (header + body).encode()
        with open(path, "wb") as f:
            f.write(data)
        total_files += 1
        total_bytes += len(data)

    names = []
    for i in range(a.services):
        name = f"{WORDS[i % len(WORDS)]}-{WORDS[(i * 7 + 3) % len(WORDS)]}-{i:03d}"
        names.append(name)
        lang, ext = LANGS[i % len(LANGS)]
        base = os.path.join(a.outdir, "services", name, "src")
        for s in SUBDIRS:
            os.makedirs(os.path.join(base, s), exist_ok=True)
        for j in range(a.files):
            sub = SUBDIRS[j % len(SUBDIRS)]
            write_file(os.path.join(base, sub, f"{WORDS[(i + j) % len(WORDS)]}_{j:04d}.{ext}"),
                       f"{name}/{sub}/{j}", ext)
    for li in range(a.libs):
        lang, ext = LANGS[li % len(LANGS)]
        base = os.path.join(a.outdir, "libs", f"lib-{WORDS[li]}", "src")
        os.makedirs(base, exist_ok=True)
        for j in range(a.lib_files):
            write_file(os.path.join(base, f"mod_{j:04d}.{ext}"), f"lib{li}/{j}", ext)
    with open(os.path.join(a.outdir, "services.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"{a.outdir}: {a.services} services x {a.files} files + {a.libs} libs x {a.lib_files}"
          f" = {total_files} files, {total_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
