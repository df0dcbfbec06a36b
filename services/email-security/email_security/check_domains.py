"""Validate the protected-domain list: ``python3 -m email_security.check_domains FILE``.

One domain per line; ``#`` starts a comment. Each entry must be a lower-case
registrable domain (``acme.com``, ``acmebank.co.uk``; not ``mail.acme.com``,
whose parent is what lookalikes imitate), in ASCII (IDNs as ``xn--``
punycode that decodes), and listed once. Exit status 0 when the list is
valid, 1 with one ``FILE:LINE: problem`` per error otherwise.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence, TextIO

from .lookalike import is_valid_domain, registrable, to_unicode


def check_lines(lines: Sequence[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """``(domains, [(line number, problem), ...])``."""
    domains: list[str] = []
    errors: list[tuple[int, str]] = []
    first_seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if entry != entry.lower():
            errors.append((n, f"{entry!r} must be lower case"))
        elif not entry.isascii():
            errors.append((n, f"{entry!r} must be ASCII (write IDNs as xn-- punycode)"))
        elif not is_valid_domain(entry):
            errors.append((n, f"{entry!r} is not a valid domain"))
        elif registrable(entry) != entry:
            errors.append((n, f"{entry!r} is a subdomain; list {registrable(entry)!r} instead"))
        elif entry in first_seen:
            errors.append((n, f"{entry!r} is already listed on line {first_seen[entry]}"))
        else:
            try:
                to_unicode(entry)
            except ValueError as exc:
                errors.append((n, str(exc)))
                continue
            first_seen[entry] = n
            domains.append(entry)
    if not domains and not errors:
        errors.append((0, "no protected domains listed"))
    return domains, errors


def load(path: str) -> list[str]:
    """The protected domains in ``path``; ValueError listing every problem."""
    with open(path, encoding="utf-8") as fh:
        domains, errors = check_lines(fh.read().splitlines())
    if errors:
        raise ValueError("; ".join(f"{path}:{n}: {msg}" for n, msg in errors))
    return domains


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python3 -m email_security.check_domains FILE", file=err)
        return 2
    path = args[0]
    try:
        with open(path, encoding="utf-8") as fh:
            domains, errors = check_lines(fh.read().splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: {exc}", file=err)
        return 1
    for n, msg in errors:
        print(f"{path}:{n}: {msg}", file=err)
    if errors:
        return 1
    print(f"{path}: {len(domains)} protected domains OK", file=out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
