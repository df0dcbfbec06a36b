import datetime as dt

import pytest

from identity_access_analytics.risk import SodRule
from identity_access_analytics.snapshot import MAX_USERS, SnapshotError, analyse, parse_options, parse_time

UTC = dt.timezone.utc
FIN = ["gl:read", "gl:post", "ap:read"]


def finance(uid, extra=(), **kw):
    return {"id": uid, "department": "Finance", "title": "Analyst", "permissions": FIN + list(extra),
            "last_login": "2024-05-30T08:00:00Z", **kw}


SNAPSHOT = {
    "as_of": "2024-06-01T00:00:00Z",
    "users": [
        finance("ana"), finance("ben"), finance("cat"), finance("dan"),
        finance("eve", ["payments:create", "payments:approve", "iam:admin"]),
        {"id": "old", "permissions": ["vpn:use"], "last_login": "2023-01-01T00:00:00Z", "title": "contractor"},
        {"id": "new", "permissions": ["vpn:use"], "created": "2024-05-25"},
    ],
}


def test_analyse_end_to_end():
    report = analyse(SNAPSHOT)
    assert report["as_of"] == "2024-06-01T00:00:00Z"
    assert report["users"] == 7
    assert [(r["members"], r["permissions"]) for r in report["roles"]] == [
        (["ana", "ben", "cat", "dan"], sorted(FIN)), (["new", "old"], ["vpn:use"])]
    assert report["users_without_role"] == ["eve"]  # 3 of her 6 permissions are shared: 0.5 < 0.6
    assert [(v["user"], v["rule"]) for v in report["sod_violations"]] == [("eve", "SOD-PAY-01")]
    assert [d["user"] for d in report["dormant_accounts"]] == ["old"]
    assert [c["user"] for c in report["privilege_creep"]] == ["eve"]
    assert report["privilege_creep"][0]["peer_group"] == "finance/analyst"  # normalised case
    assert report["users_without_peer_baseline"] == ["new", "old"]
    assert report["summary"] == {"roles": 2, "sod_violations": 1, "dormant_accounts": 1, "privilege_creep": 1}


def test_custom_rules_and_options():
    snap = {**SNAPSHOT, "sod_rules": [{"id": "NO-VPN-ADMIN", "conflicts": ["vpn:use", "iam:*"]}],
            "options": {"dormant_days": 600, "similarity": 0.5, "min_excess": 4}}
    report = analyse(snap)
    assert report["sod_violations"] == []
    assert report["dormant_accounts"] == []
    assert report["privilege_creep"] == []
    assert [r["members"] for r in report["roles"]] == [["ana", "ben", "cat", "dan", "eve"], ["new", "old"]]


def test_service_default_rules_apply_when_snapshot_has_none():
    rules = [SodRule("X", "x", ("gl:read", "gl:post"))]
    report = analyse(SNAPSHOT, default_rules=rules)
    assert {v["user"] for v in report["sod_violations"]} == {"ana", "ben", "cat", "dan", "eve"}


def test_as_of_defaults_to_now():
    snap = {"users": [{"id": "u", "permissions": [], "last_login": "2024-05-01T00:00:00Z"}]}
    fixed = dt.datetime(2024, 5, 2, tzinfo=UTC)
    report = analyse(snap, now=lambda: fixed)
    assert report["as_of"] == "2024-05-02T00:00:00Z" and report["dormant_accounts"] == []
    assert analyse(snap)["dormant_accounts"][0]["user"] == "u"  # today, it has been months


@pytest.mark.parametrize("snapshot,msg", [
    ([], "snapshot must be an object"),
    ({}, "users must be a non-empty list"),
    ({"users": []}, "users must be a non-empty list"),
    ({"users": ["alice"]}, r"users\[0\] must be an object"),
    ({"users": [{"permissions": []}]}, "id is required"),
    ({"users": [{"id": "a", "permissions": "gl:read"}]}, "permissions must be a list"),
    ({"users": [{"id": "a", "permissions": [""]}]}, "permissions must be a list"),
    ({"users": [{"id": "a", "department": 3}]}, "department must be a string"),
    ({"users": [{"id": "a", "enabled": "yes"}]}, "enabled must be true or false"),
    ({"users": [{"id": "a", "last_login": "last week"}]}, "not an ISO 8601"),
    ({"users": [{"id": "a", "created": 20240101}]}, "must be an ISO 8601 string"),
    ({"users": [{"id": "a"}, {"id": "b"}, {"id": "a"}]}, "duplicate user id.*: a"),
    ({"users": [{"id": "a"}], "as_of": "then"}, "as_of"),
    ({"users": [{"id": "a"}], "sod_rules": {"id": "x"}}, "sod_rules must be a list"),
    ({"users": [{"id": "a"}], "sod_rules": [{"id": "x", "conflicts": ["a"]}]}, "sod_rules: rule x"),
    ({"users": [{"id": "a"}], "sod_rules": [{"id": "x", "conflicts": ["a", "b"]}] * 2}, "duplicate rule id"),
    ({"users": [{"id": "a"}], "options": []}, "options must be an object"),
    ({"users": [{"id": "a"}], "options": {"speed": 1}}, "unknown option"),
    ({"users": [{"id": "a"}], "options": {"dormant_days": 1.5}}, "integer"),
    ({"users": [{"id": "a"}], "options": {"similarity": "high"}}, "number"),
    ({"users": [{"id": "a"}], "options": {"similarity": True}}, "number"),
    ({"users": [{"id": "a"}], "options": {"similarity": 0}}, "threshold"),
    ({"users": [{"id": "a"}], "options": {"dormant_days": 0}}, "dormant_days"),
    ({"users": [{"id": "a"}], "options": {"rare_below": 2.0}}, "rare_below"),
])
def test_bad_snapshots(snapshot, msg):
    with pytest.raises(SnapshotError, match=msg):
        analyse(snapshot)


def test_user_limit():
    with pytest.raises(SnapshotError, match="at most"):
        analyse({"users": [{"id": str(i)} for i in range(MAX_USERS + 1)]})


def test_parse_helpers():
    assert parse_time(None, "x") is None
    assert parse_time("2024-06-01T02:00:00+02:00", "x") == dt.datetime(2024, 6, 1, tzinfo=UTC)
    assert parse_time("2024-06-01", "x") == dt.datetime(2024, 6, 1, tzinfo=UTC)
    assert parse_options(None)["dormant_days"] == 90
    assert parse_options({"similarity": 1})["similarity"] == 1.0
