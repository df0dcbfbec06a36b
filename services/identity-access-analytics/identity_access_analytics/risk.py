"""Access risks: toxic combinations, dormant accounts, privilege creep.

**Separation of duties.** A rule lists two or more permission patterns
(shell-style, ``payments:*``) that one person must not hold together. A
user violates it only if *distinct* permissions cover every pattern: with
the rule ``[payments:*, payments:approve]`` a user holding just
``payments:approve`` is fine, since one permission cannot be both halves
of a conflict. (That is a bipartite matching, solved by augmenting paths.)

**Dormant accounts.** An enabled account is dormant when its last login
is at least ``dormant_days`` before ``as_of``; one that never logged in
is dormant once it is that old (and, with no creation date, at once).

**Privilege creep.** Each user is compared with their peer group (same
``peer_group``, else same department and title), leaving the user out of
the baseline: a permission held by fewer than ``rare_below`` of the peers
is *excess*. Users with at least ``min_excess`` excess permissions are
flagged. Groups with fewer than ``min_peers`` peers give no baseline.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

DEFAULT_SOD_RULES: list[dict[str, Any]] = [
    {"id": "SOD-PAY-01", "name": "create and approve payments",
     "conflicts": ["payments:create", "payments:approve"]},
    {"id": "SOD-VEN-01", "name": "maintain vendors and pay them",
     "conflicts": ["vendors:write", "payments:create"]},
    {"id": "SOD-IAM-01", "name": "request and approve access",
     "conflicts": ["access:request", "access:approve"]},
    {"id": "SOD-DEV-01", "name": "change code and deploy to production",
     "conflicts": ["repo:write", "deploy:production"]},
]


@dataclass(frozen=True)
class User:
    id: str
    permissions: frozenset[str]
    department: str = ""
    title: str = ""
    peer_group: str = ""
    enabled: bool = True
    last_login: Optional[dt.datetime] = None
    created: Optional[dt.datetime] = None

    @property
    def group(self) -> str:
        return self.peer_group or f"{self.department}/{self.title}"


@dataclass(frozen=True)
class SodRule:
    id: str
    name: str
    conflicts: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Any) -> "SodRule":
        if not isinstance(data, Mapping):
            raise ValueError("a separation-of-duties rule must be an object")
        rid, conflicts = data.get("id"), data.get("conflicts")
        if not isinstance(rid, str) or not rid:
            raise ValueError("rule id is required")
        if not isinstance(conflicts, list) or len(conflicts) < 2 or \
                not all(isinstance(c, str) and c for c in conflicts):
            raise ValueError(f"rule {rid}: conflicts must list at least two permission patterns")
        return cls(rid, str(data.get("name", rid)), tuple(conflicts))


def sod_violation(perms: frozenset[str], rule: SodRule) -> Optional[list[tuple[str, str]]]:
    """``[(pattern, permission), ...]`` in rule order, a distinct permission
    per pattern, or None if the user's permissions cannot cover the rule."""
    candidates = [sorted(p for p in perms if fnmatch.fnmatchcase(p, pat)) for pat in rule.conflicts]
    if not all(candidates):
        return None
    owner: dict[str, int] = {}  # permission -> index of the pattern it covers

    def assign(i: int, seen: set[str]) -> bool:
        for perm in candidates[i]:
            if perm in seen:
                continue
            seen.add(perm)
            if perm not in owner or assign(owner[perm], seen):
                owner[perm] = i
                return True
        return False

    for i in range(len(candidates)):
        if not assign(i, set()):
            return None
    return [(rule.conflicts[i], perm) for perm, i in sorted(owner.items(), key=lambda kv: kv[1])]


def sod_violations(users: Sequence[User], rules: Sequence[SodRule]) -> list[dict[str, Any]]:
    out = []
    for user in users:
        for rule in rules:
            matched = sod_violation(user.permissions, rule)
            if matched is not None:
                out.append({"user": user.id, "rule": rule.id, "name": rule.name,
                            "matched": [{"pattern": pat, "permission": perm} for pat, perm in matched]})
    return out


def dormant_accounts(users: Sequence[User], as_of: dt.datetime, dormant_days: int = 90) -> list[dict[str, Any]]:
    if dormant_days < 1:
        raise ValueError("dormant_days must be at least 1")
    limit = dt.timedelta(days=dormant_days)
    out = []
    for user in users:
        if not user.enabled:
            continue
        if user.last_login is not None:
            idle = as_of - user.last_login
            if idle >= limit:
                out.append(_dormant(user, idle.days, f"no login for {idle.days} days"))
        elif user.created is None:
            out.append(_dormant(user, None, "never logged in (creation date unknown)"))
        elif as_of - user.created >= limit:
            out.append(_dormant(user, (as_of - user.created).days, "never logged in"))
    return sorted(out, key=lambda d: (-len(d["permissions"]), d["user"]))


def _dormant(user: User, days: Optional[int], reason: str) -> dict[str, Any]:
    return {"user": user.id, "days_inactive": days, "reason": reason, "permissions": sorted(user.permissions)}


@dataclass
class Creep:
    user: str
    group: str
    peers: int
    excess: dict[str, float] = field(default_factory=dict)  # permission -> share of peers holding it

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "peer_group": self.group, "peers": self.peers,
                "excess": {p: round(f, 4) for p, f in sorted(self.excess.items())}}


def privilege_creep(users: Sequence[User], rare_below: float = 0.2, min_excess: int = 2,
                    min_peers: int = 3) -> tuple[list[Creep], list[str]]:
    """``(flagged users, users without a usable peer baseline)``."""
    if not 0.0 < rare_below <= 1.0:
        raise ValueError("rare_below must be in (0, 1]")
    if min_excess < 1 or min_peers < 1:
        raise ValueError("min_excess and min_peers must be at least 1")
    groups: dict[str, list[User]] = {}
    for user in users:
        groups.setdefault(user.group, []).append(user)
    flagged: list[Creep] = []
    no_baseline: list[str] = []
    for group, members in groups.items():
        peers = len(members) - 1
        if peers < min_peers:
            no_baseline.extend(u.id for u in members)
            continue
        held: dict[str, int] = {}
        for u in members:
            for p in u.permissions:
                held[p] = held.get(p, 0) + 1
        for u in members:
            # leave-one-out: the user's own grant is not evidence that it is normal
            excess = {p: (held[p] - 1) / peers for p in u.permissions if (held[p] - 1) / peers < rare_below}
            if len(excess) >= min_excess:
                flagged.append(Creep(u.id, group, peers, excess))
    flagged.sort(key=lambda c: (-len(c.excess), c.user))
    return flagged, sorted(no_baseline)
