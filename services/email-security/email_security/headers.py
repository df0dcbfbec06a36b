"""Parsing of RFC 5322 headers: addresses, Authentication-Results, Received.

**Authentication-Results** (RFC 8601) look like::

    mx.example.com; spf=pass (sender ok) smtp.mailfrom=a.example;
      dkim=pass header.d=a.example header.s=s1; dmarc=fail (p=reject) header.from=a.example

Anyone can put such a header in a message they send, claiming
``dmarc=pass``. Only headers added by our own mail servers count: those
whose authserv-id is in ``trusted_ids``, or, when none is configured, the
topmost one (the last added, by the server that received the message).
SPF and DMARC take the first result; DKIM passes if any signature passed.
Methods not reported are ``none``.

**Received** headers are prepended by each hop, so the chain is read
bottom-up; each hop's timestamp follows the last ``;``. Going forward
in time, a hop stamped earlier than the previous one by more than the
tolerance shows clock skew or a forged header; a long gap shows a delay.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import email.errors
import email.header
import email.parser
import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Iterable, Optional

AUTH_METHODS = ("spf", "dkim", "dmarc")
RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy")
_FOLD = re.compile(r"\r?\n[ \t]+")
_RESULT = re.compile(r"^([a-z0-9_.-]+)(?:/\d+)?\s*=\s*([a-z]+)\s*(.*)$", re.I | re.S)
_PROP = re.compile(r"([a-z0-9_-]+\.[a-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.I)
_FROM = re.compile(r"\bfrom\s+(\S+)", re.I)
_BY = re.compile(r"\bby\s+(\S+)", re.I)
_IP = re.compile(r"\[(?:IPv6:)?([0-9a-f:.]+)\]", re.I)


def parse_message(raw: str) -> Message:
    """The header block of a raw message (a body, if present, is ignored)."""
    return email.parser.HeaderParser().parsestr(raw)


def unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (``=?utf-8?b?...?=``) in a header value."""
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return value


@dataclass(frozen=True)
class Address:
    display_name: str
    address: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower().rstrip(".") if "@" in self.address else ""

    def to_dict(self) -> dict[str, str]:
        return {"display_name": self.display_name, "address": self.address, "domain": self.domain}


def addresses(msg: Message, header: str) -> list[Address]:
    values = [unfold(v) for v in msg.get_all(header, [])]
    return [Address(decode_words(name).strip(), addr.strip())
            for name, addr in email.utils.getaddresses(values) if addr.strip()]


# -- Authentication-Results ---------------------------------------------------

def strip_comments(text: str) -> str:
    """Remove (possibly nested) parenthesised comments outside quoted strings."""
    out, depth, quoted, escaped = [], 0, False, False
    for ch in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if ch == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
            continue
        elif not quoted and ch == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


@dataclass
class MethodResult:
    method: str
    result: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class AuthResults:
    authserv_id: str
    results: list[MethodResult] = field(default_factory=list)


def parse_auth_results(value: str) -> AuthResults:
    parts = [p.strip() for p in strip_comments(unfold(value)).split(";")]
    head = parts[0].split()
    ar = AuthResults(head[0].lower() if head else "")
    for part in parts[1:]:
        m = _RESULT.match(part)
        if not m:
            continue  # "none", or something we do not understand
        method, result, rest = m.group(1).lower(), m.group(2).lower(), m.group(3)
        props = {k.lower(): v.strip('"') for k, v in _PROP.findall(rest)}
        ar.results.append(MethodResult(method, result, props))
    return ar


@dataclass
class AuthSummary:
    authserv_id: Optional[str]
    spf: str = "none"
    dkim: str = "none"
    dmarc: str = "none"
    details: dict[str, dict[str, str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # authserv-ids not trusted

    def to_dict(self) -> dict[str, Any]:
        return {"authserv_id": self.authserv_id, "spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc,
                "details": self.details, "ignored": self.ignored}


def authentication(msg: Message, trusted_ids: Iterable[str] = ()) -> AuthSummary:
    headers = [parse_auth_results(v) for v in msg.get_all("Authentication-Results", [])]
    trusted = {t.lower() for t in trusted_ids}
    if trusted:
        chosen = [h for h in headers if h.authserv_id in trusted]
    else:
        chosen = headers[:1]
    summary = AuthSummary(chosen[0].authserv_id if chosen else None)
    summary.ignored = sorted({h.authserv_id for h in headers} - {h.authserv_id for h in chosen})
    for method in AUTH_METHODS:
        found = [r for h in chosen for r in h.results if r.method == method]
        if not found:
            continue
        pick = found[0]
        if method == "dkim":
            pick = next((r for r in found if r.result == "pass"), found[0])
        result = pick.result if pick.result in RESULTS else "permerror"
        setattr(summary, method, result)
        summary.details[method] = dict(pick.properties)
    return summary


# -- Received chain -----------------------------------------------------------

@dataclass
class Hop:
    index: int  # 1 = first hop, at the sender's end
    from_host: Optional[str]
    by_host: Optional[str]
    ip: Optional[str]
    time: Optional[dt.datetime]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "from": self.from_host, "by": self.by_host, "ip": self.ip,
                "time": None if self.time is None else self.time.isoformat()}


def parse_date(text: str) -> Optional[dt.datetime]:
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def received_chain(msg: Message) -> list[Hop]:
    """Hops oldest first."""
    hops = []
    values = [unfold(v) for v in msg.get_all("Received", [])]
    for i, value in enumerate(reversed(values), start=1):
        route, sep, date = value.rpartition(";")
        if not sep:
            route, date = value, ""
        bare = strip_comments(route)
        f, b = _FROM.search(bare), _BY.search(bare)
        # the connecting client's address is in the "from" clause, usually in a comment
        ip = _first_ip(re.split(r"\sby\s", route, maxsplit=1, flags=re.I)[0])
        hops.append(Hop(i, f.group(1).lower() if f else None, b.group(1).lower() if b else None,
                        ip, parse_date(date) if date else None))
    return hops


def _first_ip(text: str) -> Optional[str]:
    for m in _IP.finditer(text):
        try:
            return str(ipaddress.ip_address(m.group(1)))
        except ValueError:
            continue
    return None


def chain_issues(hops: list[Hop], date_header: Optional[dt.datetime], tolerance: float,
                 max_delay: float) -> list[str]:
    """Timing problems in the chain, as messages (times in seconds)."""
    issues = []
    timed = [h for h in hops if h.time is not None]
    if len(timed) < len(hops):
        issues.append(f"{len(hops) - len(timed)} Received header(s) without a parsable date")
    for prev, cur in zip(timed, timed[1:]):
        delta = (cur.time - prev.time).total_seconds()  # type: ignore[operator]
        if delta < -tolerance:
            issues.append(f"hop {cur.index} is stamped {int(-delta)}s before hop {prev.index}")
        elif delta > max_delay:
            issues.append(f"hop {cur.index} arrived {int(delta)}s after hop {prev.index}")
    if date_header is not None and timed:
        ahead = (date_header - timed[0].time).total_seconds()  # type: ignore[operator]
        if ahead > tolerance:
            issues.append(f"Date header is {int(ahead)}s after the first hop")
    return issues
