"""Indicators of compromise and their normal forms.

Feeds write the same indicator many ways (``EVIL.com.``, ``evil[.]com``,
``http://Evil.com:80/#x``, a ``/32`` network, upper-case hashes); matching
only works on one canonical form per type:

- ``ipv4``/``ipv6``: :mod:`ipaddress`'s compressed text; a ``/32`` (``/128``)
  network is the address itself;
- ``cidr``: the network with host bits cleared (``10.1.2.3/8`` ->
  ``10.0.0.0/8``); networks wider than /8 (IPv4) or /32 (IPv6) are
  rejected, since one bad feed row must not match the whole internet;
- ``domain``: lower case, no trailing dot, no ``*.`` prefix (subdomains
  always match), internationalised names in punycode (IDNA);
- ``url``: lower-case scheme and host, no default port, user info or
  fragment, ``/`` for an empty path; query kept as is;
- ``md5``/``sha1``/``sha256``: lower-case hex of the right length.

Without a type hint the type is detected: IP or network, then hash, then
URL (has ``://``), then domain.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Any, Optional

TYPES = ("ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256")
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
#: Type names feeds use, mapped to ours ("ip" and "hash" are resolved by the value).
ALIASES = {
    "ip": "ip", "ipv4": "ip", "ipv6": "ip", "ipv4-addr": "ip", "ipv6-addr": "ip", "ip-dst": "ip",
    "ip-src": "ip", "cidr": "ip", "network": "ip", "domain": "domain", "domain-name": "domain",
    "hostname": "domain", "fqdn": "domain", "url": "url", "uri": "url", "md5": "md5", "sha1": "sha1",
    "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256", "hash": "hash", "file": "hash",
}
MIN_PREFIX = {4: 8, 6: 32}
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_HEX = re.compile(r"^[0-9a-f]+$")
_DEFANG = [(re.compile(r"\[\.\]|\(\.\)|\[dot\]", re.I), "."), (re.compile(r"^hxxp", re.I), "http"),
           (re.compile(r"\[:\]"), ":")]


@dataclass(frozen=True)
class Indicator:
    type: str
    value: str
    confidence: int = 50
    valid_until: Optional[dt.datetime] = None
    sources: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.value)

    def expired(self, now: dt.datetime) -> bool:
        return self.valid_until is not None and self.valid_until <= now

    def merge(self, other: "Indicator") -> "Indicator":
        """The same indicator from two rows or feeds: the most confident
        reading, the later expiry (none = never expires), all sources and tags."""
        if self.valid_until is None or other.valid_until is None:
            until = None
        else:
            until = max(self.valid_until, other.valid_until)
        return replace(self, confidence=max(self.confidence, other.confidence), valid_until=until,
                       sources=self.sources | other.sources, tags=self.tags | other.tags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "confidence": self.confidence,
            "valid_until": None if self.valid_until is None else
            self.valid_until.isoformat().replace("+00:00", "Z"),
            "sources": sorted(self.sources),
            "tags": sorted(self.tags),
        }


def refang(text: str) -> str:
    for pattern, repl in _DEFANG:
        text = pattern.sub(repl, text)
    return text


def normalise(raw: str, hint: Optional[str] = None) -> tuple[str, str]:
    """``(type, canonical value)`` of an indicator; ValueError if it is not one."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("empty indicator")
    value = refang(raw.strip())
    kind = None
    if hint is not None:
        kind = ALIASES.get(hint.strip().lower())
        if kind is None:
            raise ValueError(f"unknown indicator type {hint!r}")
    if kind is None:
        return _detect(value)
    if kind == "ip":
        return _ip(value)
    if kind == "domain":
        return "domain", normalise_domain(value)
    if kind == "url":
        return "url", normalise_url(value)
    htype, digest = _hash(value)
    if kind != "hash" and kind != htype:
        raise ValueError(f"{kind} must be {HASH_LENGTHS[kind]} hex digits")
    return htype, digest


def _detect(value: str) -> tuple[str, str]:
    try:
        return _ip(value)
    except ValueError as exc:
        if "too broad" in str(exc):
            raise
    if _HEX.match(value.lower()) and len(value) in HASH_LENGTHS.values():
        return _hash(value)
    if "://" in value:
        return "url", normalise_url(value)
    return "domain", normalise_domain(value)


def _ip(value: str) -> tuple[str, str]:
    if "/" in value:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP network") from None
        if net.prefixlen == net.max_prefixlen:
            return f"ipv{net.version}", str(net.network_address)
        if net.prefixlen < MIN_PREFIX[net.version]:
            raise ValueError(f"{value!r} is too broad (shorter than /{MIN_PREFIX[net.version]})")
        return "cidr", str(net)
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    return f"ipv{addr.version}", str(addr)


def _hash(value: str) -> tuple[str, str]:
    digest = value.lower()
    for name, length in HASH_LENGTHS.items():
        if len(digest) == length and _HEX.match(digest):
            return name, digest
    raise ValueError(f"{value!r} is not an MD5, SHA-1 or SHA-256 hash")


def normalise_domain(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if name.startswith("*."):
        name = name[2:]
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise ValueError(f"{value!r} is not a valid domain") from None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
            or labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a valid domain")
    return name


def normalise_url(value: str) -> str:
    try:
        parts = urllib.parse.urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) or ftp URL")
    host = parts.hostname
    try:
        host = ipaddress.ip_address(host).compressed
        host = f"[{host}]" if ":" in host else host
    except ValueError:
        host = normalise_domain(host)
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def url_host(url: str) -> str:
    """The host of a normalised URL, without brackets or port."""
    host = urllib.parse.urlsplit(url).hostname
    assert host is not None
    return host


def parse_time(value: Any) -> Optional[dt.datetime]:
    """An ISO 8601 timestamp or date as aware UTC; None for None or ""."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a timestamp")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def parse_confidence(value: Any, default: int = 50) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError("confidence must be a number from 0 to 100")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"confidence {value!r} is not a number") from None
    if not 0 <= number <= 100:
        raise ValueError(f"confidence {value!r} is outside 0-100")
    return int(round(number))
