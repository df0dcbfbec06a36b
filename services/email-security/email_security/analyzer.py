"""The verdict: every signal from the headers, weighted into a score.

==========================================  ======
signal                                      weight
==========================================  ======
From is a lookalike (tld-swap/homoglyph/    50
typo) of a protected domain
From contains a protected brand name        30
Reply-To is a lookalike of a protected      30
domain
From is a protected domain but DMARC fails  30
DMARC fail                                  40
SPF fail / softfail                         20 / 10
DKIM fail (no passing signature)            20
no SPF, DKIM or DMARC result at all         10
Reply-To domain differs from From's         15
display name names a protected brand but    20
the address is not protected
Received chain timing issue (each, max 2)   10
==========================================  ======

``malicious`` from 60, ``suspicious`` from 25, else ``clean``. Every
contribution comes with a reason, so an analyst can see why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .headers import (
    Address, addresses, authentication, chain_issues, decode_words, parse_date, parse_message,
    received_chain,
)
from .lookalike import find_lookalike, is_valid_domain, name_of, registrable, to_ascii

MALICIOUS, SUSPICIOUS, CLEAN = "malicious", "suspicious", "clean"
THRESHOLDS = ((60, MALICIOUS), (25, SUSPICIOUS))


@dataclass
class Reason:
    code: str
    weight: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "weight": self.weight, "message": self.message}


@dataclass
class Settings:
    protected: list[str] = field(default_factory=list)
    trusted_authserv_ids: list[str] = field(default_factory=list)
    skew_tolerance: float = 300.0  # seconds
    max_hop_delay: float = 86400.0


def verdict_for(score: int) -> str:
    for threshold, name in THRESHOLDS:
        if score >= threshold:
            return name
    return CLEAN


def _domain(addr: Optional[Address]) -> Optional[str]:
    if addr is None or not addr.domain:
        return None
    try:
        ascii_form = to_ascii(addr.domain)
    except ValueError:
        return None
    return ascii_form if is_valid_domain(ascii_form) else None


def analyse(raw: str, settings: Settings) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("message is empty")
    msg = parse_message(raw)
    if not msg.keys():
        raise ValueError("no headers found")
    reasons: list[Reason] = []
    from_addrs = addresses(msg, "From")
    sender = from_addrs[0] if from_addrs else None
    reply_to = next(iter(addresses(msg, "Reply-To")), None)
    from_domain, reply_domain = _domain(sender), _domain(reply_to)
    protected_regs = {registrable(p) for p in settings.protected}
    lookalikes: dict[str, Any] = {}

    if sender is None:
        reasons.append(Reason("no-from", 20, "no From address"))
    elif from_domain is None:
        reasons.append(Reason("bad-from", 20, f"From domain of {sender.address!r} is not a valid domain"))
    if len(from_addrs) > 1:
        reasons.append(Reason("multiple-from", 10, f"{len(from_addrs)} From addresses"))

    # -- lookalikes --------------------------------------------------------
    for role, domain in (("from", from_domain), ("reply_to", reply_domain)):
        if domain is None:
            continue
        try:
            match = find_lookalike(domain, settings.protected)
        except ValueError as exc:
            reasons.append(Reason(f"{role}-bad-punycode", 30, f"{role} domain {domain}: {exc}"))
            continue
        if match is None:
            continue
        lookalikes[role] = match.to_dict()
        shown = domain if match.unicode == domain else f"{domain} ({match.unicode})"
        if role == "from":
            weight = 30 if match.technique == "brand-in-name" else 50
            reasons.append(Reason(f"from-{match.technique}", weight,
                                  f"From domain {shown} imitates {match.protected} ({match.technique})"))
        else:
            reasons.append(Reason(f"reply-to-{match.technique}", 30,
                                  f"Reply-To domain {shown} imitates {match.protected} ({match.technique})"))

    # -- authentication ----------------------------------------------------
    auth = authentication(msg, settings.trusted_authserv_ids)
    if auth.dmarc == "fail":
        reasons.append(Reason("dmarc-fail", 40, "DMARC failed"))
        if from_domain and registrable(from_domain) in protected_regs:
            reasons.append(Reason("protected-domain-spoofed", 30,
                                  f"From claims protected domain {from_domain} but DMARC failed"))
    if auth.spf in ("fail", "softfail"):
        reasons.append(Reason(f"spf-{auth.spf}", 20 if auth.spf == "fail" else 10, f"SPF {auth.spf}"))
    if auth.dkim == "fail":
        reasons.append(Reason("dkim-fail", 20, "no DKIM signature verified"))
    if (auth.spf, auth.dkim, auth.dmarc) == ("none", "none", "none"):
        reasons.append(Reason("no-auth", 10, "no SPF, DKIM or DMARC result from a trusted server"))

    # -- reply-to and display name -----------------------------------------
    if from_domain and reply_domain and registrable(from_domain) != registrable(reply_domain):
        reasons.append(Reason("reply-to-mismatch", 15,
                              f"replies go to {reply_domain}, not the sender's {from_domain}"))
    if sender is not None and from_domain and registrable(from_domain) not in protected_regs:
        brand = _brand_in_display_name(sender.display_name, settings.protected)
        if brand:
            reasons.append(Reason("display-name-brand", 20,
                                  f"display name {sender.display_name!r} names {brand} but mail is from {from_domain}"))

    # -- received chain ----------------------------------------------------
    hops = received_chain(msg)
    date_value = msg.get("Date")
    issues = chain_issues(hops, parse_date(date_value) if date_value else None,
                          settings.skew_tolerance, settings.max_hop_delay)
    for issue in issues[:2]:
        reasons.append(Reason("received-timing", 10, issue))

    score = sum(r.weight for r in reasons)
    return {
        "verdict": verdict_for(score),
        "score": score,
        "reasons": [r.to_dict() for r in reasons],
        "from": sender.to_dict() if sender else None,
        "reply_to": reply_to.to_dict() if reply_to else None,
        "subject": decode_words(msg.get("Subject", "")),
        "authentication": auth.to_dict(),
        "received": {"hops": [h.to_dict() for h in hops], "issues": issues},
        "lookalikes": lookalikes,
    }


def _brand_in_display_name(display: str, protected: Iterable[str]) -> Optional[str]:
    """The protected domain whose brand the display name spells out as words
    ("PayPal Support", "ACME Corp billing", "AcmeCorp"), if any."""
    tokens = re.findall(r"[a-z0-9]+", display.lower())
    joined = f" {' '.join(tokens)} "
    for p in protected:
        brand = re.findall(r"[a-z0-9]+", name_of(registrable(p)))
        if sum(map(len, brand)) >= 4 and (f" {' '.join(brand)} " in joined or "".join(brand) in tokens):
            return p
    return None
