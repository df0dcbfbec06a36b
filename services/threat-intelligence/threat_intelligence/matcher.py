"""The indicator store and the matcher.

Indicators are kept by ``(type, canonical value)``; loading one that is
already known merges the two (see :meth:`Indicator.merge`), so ten feeds
listing the same C2 address give one indicator with ten sources.

Matching an observable (normalised the same way):

- an IP matches the same address and every loaded network containing it
  (one dict lookup per prefix length in use, most specific first);
- a domain matches itself (``exact``) and any loaded parent domain
  (``subdomain``: ``a.b.evil.com`` matches ``evil.com``), but never a
  bare TLD;
- a URL matches the same URL (``exact``), and its host is then checked
  as a domain or IP (``url-host``);
- a hash matches the same hash.

Expired indicators and those below the confidence floor never match.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

from .indicators import Indicator, normalise, url_host

MAX_EVENT_VALUES = 1000


@dataclass(frozen=True)
class Match:
    observable: str
    indicator: Indicator
    how: str  # exact, cidr, subdomain, url-host

    def to_dict(self) -> dict[str, Any]:
        return {"observable": self.observable, "match": self.how, "indicator": self.indicator.to_dict()}


@dataclass
class LoadStats:
    added: int = 0
    updated: int = 0
    revoked: int = 0
    expired: int = 0  # already past valid_until when loaded: skipped

    def to_dict(self) -> dict[str, int]:
        return {"added": self.added, "updated": self.updated, "revoked": self.revoked,
                "expired": self.expired}


class IndicatorStore:
    """Thread-safe indicator store."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Indicator] = {}
        # prefix length -> network -> indicator, per IP version
        self._networks: dict[int, dict[int, dict[Any, Indicator]]] = {4: {}, 6: {}}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_key)

    def load(self, indicators: Iterable[Indicator], revoked: Iterable[tuple[str, str]] = (),
             now: Optional[dt.datetime] = None) -> LoadStats:
        """Add or merge ``indicators`` (skipping those expired at ``now``), then
        drop the ``revoked`` keys."""
        stats = LoadStats()
        with self._lock:
            for ind in indicators:
                if now is not None and ind.expired(now):
                    stats.expired += 1
                    continue
                old = self._by_key.get(ind.key)
                if old is None:
                    stats.added += 1
                    self._put(ind)
                else:
                    stats.updated += 1
                    self._put(old.merge(ind))
            for key in revoked:
                if self._remove(key):
                    stats.revoked += 1
        return stats

    def _put(self, ind: Indicator) -> None:
        self._by_key[ind.key] = ind
        if ind.type == "cidr":
            net = ipaddress.ip_network(ind.value)
            self._networks[net.version].setdefault(net.prefixlen, {})[net] = ind

    def _remove(self, key: tuple[str, str]) -> bool:
        ind = self._by_key.pop(key, None)
        if ind is None:
            return False
        if ind.type == "cidr":
            net = ipaddress.ip_network(ind.value)
            bucket = self._networks[net.version][net.prefixlen]
            del bucket[net]
            if not bucket:
                del self._networks[net.version][net.prefixlen]
        return True

    def purge_expired(self, now: dt.datetime) -> int:
        with self._lock:
            stale = [key for key, ind in self._by_key.items() if ind.expired(now)]
            for key in stale:
                self._remove(key)
        return len(stale)

    def counts(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for kind, _ in self._by_key:
                out[kind] = out.get(kind, 0) + 1
            return dict(sorted(out.items()))

    # -- matching ----------------------------------------------------------
    def check(self, observable: str, now: dt.datetime, min_confidence: int = 0,
              hint: Optional[str] = None) -> list[Match]:
        """Live indicators matching ``observable``; ValueError if it is not one."""
        kind, value = normalise(observable, hint)
        with self._lock:
            found = list(self._candidates(kind, value))
        return [Match(observable, ind, how) for ind, how in found
                if not ind.expired(now) and ind.confidence >= min_confidence]

    def _candidates(self, kind: str, value: str) -> Iterator[tuple[Indicator, str]]:
        exact = self._by_key.get((kind, value))
        if exact is not None:
            yield exact, "exact"
        if kind in ("ipv4", "ipv6"):
            yield from self._in_networks(value)
        elif kind == "domain":
            yield from self._parents(value)
        elif kind == "url":
            host = url_host(value)
            try:
                ip = ipaddress.ip_address(host)
                hits = self._ip_hits(str(ip), ip.version)
            except ValueError:
                hits = self._parents(host, include_self=True)
            for ind, _ in hits:
                yield ind, "url-host"

    def _ip_hits(self, ip: str, version: int) -> Iterator[tuple[Indicator, str]]:
        exact = self._by_key.get((f"ipv{version}", ip))
        if exact is not None:
            yield exact, "exact"
        yield from self._in_networks(ip)

    def _in_networks(self, ip: str) -> Iterator[tuple[Indicator, str]]:
        addr = ipaddress.ip_address(ip)
        by_prefix = self._networks[addr.version]
        for prefix in sorted(by_prefix, reverse=True):
            net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
            ind = by_prefix[prefix].get(net)
            if ind is not None:
                yield ind, "cidr"

    def _parents(self, domain: str, include_self: bool = False) -> Iterator[tuple[Indicator, str]]:
        labels = domain.split(".")
        start = 0 if include_self else 1
        for i in range(start, len(labels) - 1):  # stop before the bare TLD
            ind = self._by_key.get(("domain", ".".join(labels[i:])))
            if ind is not None:
                yield ind, "exact" if i == 0 else "subdomain"

    def check_event(self, event: Any, now: dt.datetime, min_confidence: int = 0) -> list[Match]:
        """Matches for every string value in an event (nested objects and lists
        included) that is an observable; other strings are ignored."""
        matches: list[Match] = []
        seen: set[str] = set()
        for text in _strings(event):
            if text in seen:
                continue
            seen.add(text)
            if len(seen) > MAX_EVENT_VALUES:
                raise ValueError(f"event has more than {MAX_EVENT_VALUES} distinct values")
            try:
                matches.extend(self.check(text, now, min_confidence))
            except ValueError:
                continue
        return matches


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
