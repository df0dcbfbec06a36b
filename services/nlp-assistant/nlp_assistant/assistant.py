"""Answers: the classified intent plus the extracted entities, templated.

Every intent that acts on indicators says which entity kinds it needs; if
the question has none of them the assistant asks for one instead of
guessing. Beyond templating, two analyst-protecting rules live here:

- IP lookups distinguish internal (private, loopback, link-local, ...)
  addresses, which no threat feed knows, from public ones;
- a block request never proposes blocking an internal or reserved
  address (that is how a SOC takes down its own network), and every
  proposed block needs a human approval.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Optional

from .classifier import IntentClassifier
from .entities import Entities, extract

#: intent -> entity kinds that can satisfy it, and the follow-up question.
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "ip_reputation": (("ips",), "Which IP address should I look up?"),
    "cve_lookup": (("cves",), "Which CVE id (CVE-YYYY-NNNN) do you mean?"),
    "hash_lookup": (("hashes",), "Which file hash (MD5, SHA-1 or SHA-256) should I check?"),
    "domain_lookup": (("domains",), "Which domain should I check?"),
    "block_indicator": (("ips", "domains", "hashes"), "What should I block: an IP, a domain or a file hash?"),
}

HELP = ("I can look up IPs, domains, file hashes and CVEs, propose blocks, "
        "and report on incidents. Try: \"is 203.0.113.7 malicious?\"")


@dataclass
class Answer:
    intent: str
    confidence: float
    entities: Entities
    answer: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    needs_input: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "entities": self.entities.to_dict(),
            "answer": self.answer,
            "actions": [dict(a) for a in self.actions],
            "needs_input": self.needs_input,
        }


def ip_scope(ip: str) -> str:
    """``public`` or the reason an address is not routable on the internet."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for name in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(addr, f"is_{name}"):
            return name.replace("_", "-")
    return "public" if addr.is_global else "reserved"


def cve_problem(cve: str, today: _dt.date) -> Optional[str]:
    """Why a well-formed CVE id cannot be real, or None."""
    year = int(cve.split("-")[1])
    if year < 1999:
        return "CVE ids start in 1999"
    if year > today.year + 1:
        return f"year {year} is in the future"
    return None


class Assistant:
    def __init__(self, classifier: IntentClassifier, today: Optional[_dt.date] = None) -> None:
        self.classifier = classifier
        self._today = today

    def ask(self, question: str) -> Answer:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        intent, confidence, _ = self.classifier.classify(question)
        entities = extract(question)
        if intent in NEEDS:
            kinds, follow_up = NEEDS[intent]
            if not any(getattr(entities, k) for k in kinds):
                return Answer(intent, confidence, entities, follow_up, needs_input=True)
        handler = getattr(self, f"_{intent}", None)
        if handler is None:  # unknown or greeting
            return Answer(intent, confidence, entities, HELP)
        text, actions = handler(entities)
        return Answer(intent, confidence, entities, text, actions)

    # -- templates ---------------------------------------------------------
    def _ip_reputation(self, e: Entities) -> tuple[str, list[dict[str, Any]]]:
        lines, actions = [], []
        for ip in e.ips:
            scope = ip_scope(ip)
            if scope == "public":
                lines.append(f"{ip}: public address, checking threat-intelligence feeds.")
                actions.append({"type": "lookup", "service": "threat-intelligence", "observable": ip})
            else:
                lines.append(f"{ip}: {scope} address, not in any threat feed; check the asset inventory.")
                actions.append({"type": "lookup", "service": "asset-inventory", "observable": ip})
        return " ".join(lines), actions

    def _cve_lookup(self, e: Entities) -> tuple[str, list[dict[str, Any]]]:
        today = self._today or _dt.date.today()
        lines, actions = [], []
        for cve in e.cves:
            problem = cve_problem(cve, today)
            if problem:
                lines.append(f"{cve} does not look valid: {problem}.")
                continue
            lines.append(f"{cve}: fetching severity, exploitation status and affected assets.")
            actions.append({"type": "lookup", "service": "vulnerability-management", "observable": cve})
        return " ".join(lines), actions

    def _hash_lookup(self, e: Entities) -> tuple[str, list[dict[str, Any]]]:
        lines, actions = [], []
        for h in e.hashes:
            lines.append(f"{h['type'].upper()} {h['value']}: checking malware intelligence and sandbox reports.")
            actions.append({"type": "lookup", "service": "threat-intelligence", "observable": h["value"]})
        return " ".join(lines), actions

    def _domain_lookup(self, e: Entities) -> tuple[str, list[dict[str, Any]]]:
        actions = [{"type": "lookup", "service": "threat-intelligence", "observable": d} for d in e.domains]
        names = ", ".join(e.domains)
        return f"Checking reputation, registration age and lookalike status of {names}.", actions

    def _block_indicator(self, e: Entities) -> tuple[str, list[dict[str, Any]]]:
        lines, actions = [], []
        for ip in e.ips:
            scope = ip_scope(ip)
            if scope != "public":
                lines.append(f"Not blocking {ip}: it is a {scope} address.")
                continue
            actions.append({"type": "block", "target": "firewall", "observable": ip, "requires_approval": True})
        for domain in e.domains:
            actions.append({"type": "block", "target": "dns", "observable": domain, "requires_approval": True})
        for h in e.hashes:
            actions.append({"type": "block", "target": "edr", "observable": h["value"], "requires_approval": True})
        if actions:
            proposed = ", ".join(f"{a['observable']} ({a['target']})" for a in actions)
            lines.insert(0, f"Proposed blocks awaiting approval: {proposed}.")
        return " ".join(lines), actions

    def _incident_status(self, e: Entities) -> tuple[str, list[dict[str, Any]]]:
        return ("Fetching the incident queue from the case-management service.",
                [{"type": "query", "service": "case-management"}])
