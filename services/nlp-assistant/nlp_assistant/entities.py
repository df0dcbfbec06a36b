"""Indicator extraction from free text: IPs, CVE ids, file hashes, domains.

Analysts paste indicators *defanged* (``evil[.]com``, ``hxxp://``,
``10[.]0[.]0[.]1``) so nobody clicks them; :func:`refang` undoes that
before scanning. Candidates found by regex are then validated:

- IPv4 and IPv6 through :mod:`ipaddress` (``256.1.1.1``, ``01.2.3.4`` and
  ``10:30:00`` are not addresses);
- CVE ids as ``CVE-YYYY-NNNN+`` (upper-cased);
- hashes by exact hex length (32 md5, 40 sha1, 64 sha256), never a slice
  of a longer hex run;
- domains need an alphabetic (or ``xn--``) TLD that is not a common file
  extension, so ``invoice.pdf`` and ``v1.2.3`` are not domains.

:func:`scan` returns non-overlapping matches in text order; :func:`mask`
replaces them with placeholder tokens (``__ip__`` ...) so the intent
classifier sees "is __ip__ malicious" whatever the address.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

_REFANG = [
    (re.compile(r"\bhxxp(s?)://", re.I), lambda m: f"http{m.group(1).lower()}://"),
    (re.compile(r"\[(?:\.|dot)\]|\((?:\.|dot)\)|\{\.\}", re.I), "."),
    (re.compile(r"\[:\]"), ":"),
]

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\w)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.I)
_CVE = re.compile(r"\bCVE-(\d{4})-(\d{4,7})\b", re.I)
_HASH = re.compile(r"\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b", re.I)
_DOMAIN = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})(?![\w@-])",
    re.I,
)

HASH_TYPES = {32: "md5", 40: "sha1", 64: "sha256"}

#: TLD-shaped suffixes that are far more often file names in analyst chat.
FILE_EXTENSIONS = frozenset(
    "exe dll sys bat cmd ps1 vbs js jar py sh bin elf so msi lnk iso img "
    "pdf doc docx xls xlsx xlsm ppt pptx rtf txt csv log json xml yaml yml html htm "
    "zip rar gz tgz 7z tar png jpg jpeg gif conf cfg ini eml msg".split()
)

PLACEHOLDERS = {"ip": "__ip__", "cve": "__cve__", "hash": "__hash__", "domain": "__domain__"}


@dataclass(frozen=True)
class Match:
    kind: str  # "ip", "cve", "hash" or "domain"
    value: str  # normalised
    start: int
    end: int
    detail: str = ""  # ip version or hash algorithm


@dataclass
class Entities:
    ips: list[str] = field(default_factory=list)
    cves: list[str] = field(default_factory=list)
    hashes: list[dict[str, str]] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.ips or self.cves or self.hashes or self.domains)

    def to_dict(self) -> dict[str, Any]:
        return {"ips": list(self.ips), "cves": list(self.cves),
                "hashes": [dict(h) for h in self.hashes], "domains": list(self.domains)}


def refang(text: str) -> str:
    """Undo the usual defanging of indicators."""
    for pattern, repl in _REFANG:
        text = pattern.sub(repl, text)
    return text


def _candidates(text: str) -> list[Match]:
    found: list[Match] = []
    for m in _CVE.finditer(text):
        found.append(Match("cve", f"CVE-{m.group(1)}-{m.group(2)}", m.start(), m.end()))
    for m in _HASH.finditer(text):
        value = m.group(0).lower()
        found.append(Match("hash", value, m.start(), m.end(), HASH_TYPES[len(value)]))
    for m in _IPV4.finditer(text):
        try:
            addr = ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        found.append(Match("ip", str(addr), m.start(), m.end(), "ipv4"))
    for m in _IPV6.finditer(text):
        try:
            addr6 = ipaddress.IPv6Address(m.group(0))
        except ValueError:
            continue
        found.append(Match("ip", str(addr6), m.start(), m.end(), "ipv6"))
    for m in _DOMAIN.finditer(text):
        value = m.group(0).lower()
        if value.rsplit(".", 1)[1] in FILE_EXTENSIONS:
            continue
        found.append(Match("domain", value, m.start(), m.end()))
    return found


def scan(text: str) -> list[Match]:
    """Validated, non-overlapping matches in ``text`` (already refanged), in order.

    Where candidates overlap the earliest wins, and at the same start the
    longest (``CVE-2021-44228`` is not also the domain-ish ``2021-44228``).
    """
    chosen: list[Match] = []
    end = -1
    for m in sorted(_candidates(text), key=lambda c: (c.start, -(c.end - c.start))):
        if m.start >= end:
            chosen.append(m)
            end = m.end
    return chosen


def extract(text: str) -> Entities:
    """De-duplicated entities of a (possibly defanged) text, in order of appearance."""
    out = Entities()
    seen: set[tuple[str, str]] = set()
    for m in scan(refang(text)):
        if (m.kind, m.value) in seen:
            continue
        seen.add((m.kind, m.value))
        if m.kind == "ip":
            out.ips.append(m.value)
        elif m.kind == "cve":
            out.cves.append(m.value)
        elif m.kind == "hash":
            out.hashes.append({"value": m.value, "type": m.detail})
        else:
            out.domains.append(m.value)
    return out


def mask(text: str) -> str:
    """``text`` refanged, with every entity replaced by its placeholder token."""
    text = refang(text)
    parts, pos = [], 0
    for m in scan(text):
        parts.append(text[pos:m.start])
        parts.append(f" {PLACEHOLDERS[m.kind]} ")
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts)
