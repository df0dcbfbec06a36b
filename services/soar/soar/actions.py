"""The built-in action handlers: enrich, block, notify, ticket.

They stand in for the platform's connectors (threat-intelligence, the
firewall, chat, case management) and keep their effects in memory, so a
playbook can be run and inspected end to end. Each is an ordinary
handler ``(params, ctx) -> result``; a deployment swaps in real ones.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from typing import Any, Iterable, Mapping

from .runner import ActionError, Handler

SEVERITIES = ("low", "medium", "high", "critical")
CHANNELS = ("soc", "email", "pager")


def _require_str(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ActionError(f"param {key!r} must be a non-empty string", retryable=False)
    return value.strip()


def _internal_ip(value: str) -> bool:
    try:
        return not ipaddress.ip_address(value).is_global
    except ValueError:
        return False


class Connectors:
    """In-memory connectors; thread-safe, since steps run on worker threads."""

    def __init__(self, known_bad: Iterable[str] = ()) -> None:
        self.known_bad = {x.strip().lower() for x in known_bad if x.strip()}
        self.blocklist: dict[str, str] = {}
        self.outbox: list[dict[str, Any]] = []
        self.tickets: dict[str, dict[str, Any]] = {}
        self._ticket_ids = itertools.count(1001)
        self._lock = threading.Lock()

    def handlers(self) -> dict[str, Handler]:
        return {"enrich": self.enrich, "block": self.block, "notify": self.notify, "ticket": self.ticket}

    def enrich(self, params: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
        observable = _require_str(params, "observable").lower()
        if _internal_ip(observable):
            return {"observable": observable, "verdict": "internal", "score": 0}
        if observable in self.known_bad:
            return {"observable": observable, "verdict": "malicious", "score": 90}
        return {"observable": observable, "verdict": "unknown", "score": 10}

    def block(self, params: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
        observable = _require_str(params, "observable").lower()
        target = params.get("target", "firewall")
        if _internal_ip(observable):
            raise ActionError(f"refusing to block internal address {observable}", retryable=False)
        with self._lock:
            already = observable in self.blocklist
            self.blocklist.setdefault(observable, str(target))
        return {"blocked": observable, "target": target, "already_blocked": already}

    def notify(self, params: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "soc")
        if channel not in CHANNELS:
            raise ActionError(f"unknown channel {channel!r}", retryable=False)
        message = _require_str(params, "message")
        with self._lock:
            self.outbox.append({"channel": channel, "message": message})
            n = len(self.outbox)
        return {"delivered": True, "channel": channel, "message_id": n}

    def ticket(self, params: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
        title = _require_str(params, "title")
        severity = params.get("severity", "medium")
        if severity not in SEVERITIES:
            raise ActionError(f"severity must be one of {', '.join(SEVERITIES)}", retryable=False)
        with self._lock:
            key = f"SEC-{next(self._ticket_ids)}"
            self.tickets[key] = {"title": title, "severity": severity}
        return {"ticket": key, "severity": severity}

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"blocklist": dict(self.blocklist), "outbox": list(self.outbox),
                    "tickets": {k: dict(v) for k, v in self.tickets.items()}}
