"""An access snapshot: parsing, and the analysis that runs every detector.

    {"as_of": "2024-06-01T00:00:00Z",
     "users": [{"id": "alice", "department": "finance", "title": "clerk",
                "permissions": ["payments:create", ...], "last_login": "2024-05-30T08:00:00Z",
                "created": "2023-01-10", "enabled": true, "peer_group": "optional"}],
     "sod_rules": [{"id": "...", "name": "...", "conflicts": ["a:*", "b:approve"]}],
     "options": {"similarity": 0.6, "min_role_members": 2, "role_support": 1.0,
                 "dormant_days": 90, "rare_below": 0.2, "min_excess": 2, "min_peers": 3}}

``sod_rules`` defaults to the service's rules (the built-in ones unless
configured); ``as_of`` to now.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping, Optional

from .risk import DEFAULT_SOD_RULES, SodRule, User, dormant_accounts, privilege_creep, sod_violations
from .roles import mine_roles

MAX_USERS = 2000
OPTIONS: dict[str, tuple[type, Any]] = {
    "similarity": (float, 0.6),
    "min_role_members": (int, 2),
    "role_support": (float, 1.0),
    "dormant_days": (int, 90),
    "rare_below": (float, 0.2),
    "min_excess": (int, 2),
    "min_peers": (int, 3),
}


class SnapshotError(ValueError):
    pass


def parse_time(value: Any, what: str) -> Optional[dt.datetime]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SnapshotError(f"{what} must be an ISO 8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SnapshotError(f"{what}: {value!r} is not an ISO 8601 timestamp") from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def parse_user(data: Any, i: int) -> User:
    where = f"users[{i}]"
    if not isinstance(data, Mapping):
        raise SnapshotError(f"{where} must be an object")
    uid = data.get("id")
    if not isinstance(uid, str) or not uid.strip():
        raise SnapshotError(f"{where}: id is required")
    perms = data.get("permissions", [])
    if not isinstance(perms, list) or not all(isinstance(p, str) and p.strip() for p in perms):
        raise SnapshotError(f"{where} ({uid}): permissions must be a list of strings")
    for key in ("department", "title", "peer_group"):
        if not isinstance(data.get(key, ""), str):
            raise SnapshotError(f"{where} ({uid}): {key} must be a string")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SnapshotError(f"{where} ({uid}): enabled must be true or false")
    return User(
        id=uid.strip(),
        permissions=frozenset(p.strip() for p in perms),
        department=data.get("department", "").strip().lower(),
        title=data.get("title", "").strip().lower(),
        peer_group=data.get("peer_group", "").strip().lower(),
        enabled=enabled,
        last_login=parse_time(data.get("last_login"), f"{where} ({uid}).last_login"),
        created=parse_time(data.get("created"), f"{where} ({uid}).created"),
    )


def parse_options(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SnapshotError("options must be an object")
    unknown = sorted(set(raw) - set(OPTIONS))
    if unknown:
        raise SnapshotError(f"unknown option(s): {', '.join(unknown)}")
    out = {}
    for key, (kind, default) in OPTIONS.items():
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind is int and not isinstance(value, int)):
            raise SnapshotError(f"option {key} must be {'an integer' if kind is int else 'a number'}")
        out[key] = kind(value)
    return out


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_rules(raw: Any) -> list[SodRule]:
    if not isinstance(raw, list):
        raise SnapshotError("sod_rules must be a list")
    try:
        rules = [SodRule.from_dict(r) for r in raw]
    except ValueError as exc:
        raise SnapshotError(f"sod_rules: {exc}") from None
    if len({r.id for r in rules}) != len(rules):
        raise SnapshotError("sod_rules: duplicate rule id")
    return rules


def analyse(snapshot: Any, now: Callable[[], dt.datetime] = utcnow,
            default_rules: Optional[list[SodRule]] = None) -> dict[str, Any]:
    """Every finding for a snapshot; SnapshotError (a ValueError) if it is malformed."""
    if not isinstance(snapshot, Mapping):
        raise SnapshotError("snapshot must be an object")
    raw_users = snapshot.get("users")
    if not isinstance(raw_users, list) or not raw_users:
        raise SnapshotError("users must be a non-empty list")
    if len(raw_users) > MAX_USERS:
        raise SnapshotError(f"at most {MAX_USERS} users per snapshot")
    users = [parse_user(u, i) for i, u in enumerate(raw_users)]
    ids = [u.id for u in users]
    if len(set(ids)) != len(ids):
        dup = sorted({x for x in ids if ids.count(x) > 1})
        raise SnapshotError(f"duplicate user id(s): {', '.join(dup)}")
    as_of = parse_time(snapshot.get("as_of"), "as_of") or now()
    if "sod_rules" in snapshot:
        rules = parse_rules(snapshot["sod_rules"])
    else:
        rules = default_rules if default_rules is not None else parse_rules(DEFAULT_SOD_RULES)
    opts = parse_options(snapshot.get("options"))

    try:
        roles, unassigned = mine_roles({u.id: u.permissions for u in users}, opts["similarity"],
                                       opts["min_role_members"], opts["role_support"])
        dormant = dormant_accounts(users, as_of, opts["dormant_days"])
        creep, no_baseline = privilege_creep(users, opts["rare_below"], opts["min_excess"], opts["min_peers"])
    except ValueError as exc:
        raise SnapshotError(str(exc)) from None
    sod = sod_violations(users, rules)
    return {
        "as_of": as_of.isoformat().replace("+00:00", "Z"),
        "users": len(users),
        "roles": [r.to_dict() for r in roles],
        "users_without_role": unassigned,
        "sod_violations": sod,
        "dormant_accounts": dormant,
        "privilege_creep": [c.to_dict() for c in creep],
        "users_without_peer_baseline": no_baseline,
        "summary": {"roles": len(roles), "sod_violations": len(sod), "dormant_accounts": len(dormant),
                    "privilege_creep": len(creep)},
    }
