"""Feed parsers: STIX-like JSON bundles and CSV.

Both return a :class:`FeedResult`: the indicators (normalised), the keys
of revoked indicators, and one error per bad entry. A bad entry never
sinks the feed: real feeds always have a few.

STIX-like bundles hold ``indicator`` objects (others are ignored) with a
``pattern`` made of simple comparisons joined by ``OR``::

    [ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'evil.example']
    [file:hashes.'SHA-256' = '...']   [url:value = 'http://...']

plus optional ``confidence`` (0-100, default 50), ``valid_until``,
``revoked`` and ``labels`` (tags). ``AND`` and other operators are
reported as unsupported rather than half-matched.

CSV feeds need a header with an ``indicator`` (or ``value``) column and
may have ``type``, ``confidence``, ``valid_until`` (or ``expires``) and
``tags`` (``;``-separated). ``#`` lines are comments.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .indicators import Indicator, normalise, parse_confidence, parse_time

_COMPARISON = re.compile(
    r"\[\s*(?P<object>[a-z0-9-]+):(?P<path>[a-z0-9_.'-]+)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*\]",
    re.I,
)
_OR = re.compile(r"\s+OR\s+", re.I)
_STIX_PATHS = {
    ("ipv4-addr", "value"): "ip",
    ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
}
_HASH_NAMES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256"}


@dataclass
class FeedResult:
    indicators: list[Indicator] = field(default_factory=list)
    revoked: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_pattern(pattern: str) -> list[tuple[str, str]]:
    """``[(type, value), ...]`` of a pattern of OR-ed equality comparisons."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("pattern is empty")
    out = []
    for part in _OR.split(pattern.strip()):
        m = _COMPARISON.fullmatch(part.strip())
        if not m:
            raise ValueError(f"unsupported pattern {part.strip()!r}")
        obj, path = m.group("object").lower(), m.group("path").lower()
        value = re.sub(r"\\(.)", r"\1", m.group("value"))
        if obj == "file" and path.startswith("hashes."):
            algo = _HASH_NAMES.get(path[len("hashes."):].strip("'"))
            if algo is None:
                raise ValueError(f"unsupported hash {path!r}")
            out.append(normalise(value, algo))
            continue
        hint = _STIX_PATHS.get((obj, path))
        if hint is None:
            raise ValueError(f"unsupported object path {obj}:{path}")
        out.append(normalise(value, hint))
    return out


def parse_stix(bundle: Any, source: str) -> FeedResult:
    result = FeedResult()
    if not isinstance(bundle, Mapping) or bundle.get("type") != "bundle" \
            or not isinstance(bundle.get("objects"), list):
        result.errors.append('not a bundle: need {"type": "bundle", "objects": [...]}')
        return result
    for i, obj in enumerate(bundle["objects"]):
        if not isinstance(obj, Mapping) or obj.get("type") != "indicator":
            continue
        where = f"objects[{i}]" + (f" ({obj['id']})" if isinstance(obj.get("id"), str) else "")
        try:
            if obj.get("pattern_type", "stix") != "stix":
                raise ValueError(f"pattern_type {obj.get('pattern_type')!r} is not supported")
            observables = parse_pattern(obj.get("pattern"))
            if obj.get("revoked") is True:
                result.revoked.extend(observables)
                continue
            confidence = parse_confidence(obj.get("confidence"))
            until = parse_time(obj.get("valid_until"))
            labels = obj.get("labels", [])
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise ValueError("labels must be a list of strings")
        except ValueError as exc:
            result.errors.append(f"{where}: {exc}")
            continue
        tags = frozenset(x.strip().lower() for x in labels if x.strip())
        for kind, value in observables:
            result.indicators.append(Indicator(kind, value, confidence, until, frozenset({source}), tags))
    return result


def _column(header: list[str], *names: str) -> Optional[int]:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def parse_csv(text: str, source: str) -> FeedResult:
    result = FeedResult()
    reader = csv.reader(io.StringIO(text))
    # reader.line_num: the physical line a record ends on (quoted fields may span lines)
    rows = [(reader.line_num, row) for row in reader
            if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        result.errors.append("empty feed")
        return result
    header = [h.strip().lower() for h in rows[0][1]]
    col_value = _column(header, "indicator", "value")
    if col_value is None:
        result.errors.append("header needs an 'indicator' or 'value' column")
        return result
    col_type = _column(header, "type")
    col_conf = _column(header, "confidence")
    col_until = _column(header, "valid_until", "expires")
    col_tags = _column(header, "tags")

    def cell(row: list[str], col: Optional[int]) -> Optional[str]:
        return row[col].strip() if col is not None and col < len(row) else None

    for n, row in rows[1:]:
        try:
            hint = cell(row, col_type) or None
            kind, value = normalise(cell(row, col_value) or "", hint)
            confidence = parse_confidence(cell(row, col_conf))
            until = parse_time(cell(row, col_until))
        except ValueError as exc:
            result.errors.append(f"line {n}: {exc}")
            continue
        tags = frozenset(t.strip().lower() for t in (cell(row, col_tags) or "").split(";") if t.strip())
        result.indicators.append(Indicator(kind, value, confidence, until, frozenset({source}), tags))
    return result
