import datetime as dt

import pytest

from identity_access_analytics.risk import (
    DEFAULT_SOD_RULES, SodRule, User, dormant_accounts, privilege_creep, sod_violation, sod_violations,
)

UTC = dt.timezone.utc
AS_OF = dt.datetime(2024, 6, 1, tzinfo=UTC)


def user(uid, perms=(), **kw):
    return User(uid, frozenset(perms), **kw)


PAY = SodRule("SOD-PAY", "create and approve", ("payments:create", "payments:approve"))


@pytest.mark.parametrize("perms,rule,expected", [
    ({"payments:create", "payments:approve", "gl:read"}, PAY,
     [("payments:create", "payments:create"), ("payments:approve", "payments:approve")]),
    ({"payments:create"}, PAY, None),
    ({"payments:approve"}, PAY, None),
    (set(), PAY, None),
    ({"Payments:Create", "payments:approve"}, PAY, None),  # permissions are case-sensitive
    # one permission cannot be both halves of a conflict ...
    ({"payments:approve"}, SodRule("R", "r", ("payments:*", "payments:approve")), None),
    # ... which needs an augmenting path: a greedy pick of approve for payments:* would miss this
    ({"payments:approve", "payments:create"}, SodRule("R", "r", ("payments:*", "payments:approve")),
     [("payments:*", "payments:create"), ("payments:approve", "payments:approve")]),
    ({"vendors:write", "payments:create"}, SodRule("R", "r", ("vendors:*", "payments:c*")),
     [("vendors:*", "vendors:write"), ("payments:c*", "payments:create")]),
    ({"a:1", "a:2"}, SodRule("R", "r", ("a:*", "a:*", "a:*")), None),  # three patterns need three
])
def test_sod_violation(perms, rule, expected):
    assert sod_violation(frozenset(perms), rule) == expected


def test_each_pattern_gets_its_own_permission():
    got = sod_violation(frozenset({"a:1", "a:2", "a:3", "b:1"}), SodRule("R", "r", ("a:*", "a:*", "a:*")))
    assert [pat for pat, _ in got] == ["a:*"] * 3
    assert sorted(perm for _, perm in got) == ["a:1", "a:2", "a:3"]


def test_sod_violations_across_users_and_rules():
    rules = [SodRule.from_dict(r) for r in DEFAULT_SOD_RULES]
    users = [user("ann", {"payments:create", "payments:approve", "vendors:write"}),
             user("bob", {"repo:write", "deploy:production"}),
             user("cyd", {"payments:create"})]
    got = [(v["user"], v["rule"]) for v in sod_violations(users, rules)]
    assert got == [("ann", "SOD-PAY-01"), ("ann", "SOD-VEN-01"), ("bob", "SOD-DEV-01")]
    assert sod_violations(users, rules)[0]["matched"] == [
        {"pattern": "payments:create", "permission": "payments:create"},
        {"pattern": "payments:approve", "permission": "payments:approve"}]


@pytest.mark.parametrize("data,msg", [
    ("x", "must be an object"),
    ({"conflicts": ["a", "b"]}, "id is required"),
    ({"id": "R", "conflicts": ["a"]}, "at least two"),
    ({"id": "R", "conflicts": "a,b"}, "at least two"),
    ({"id": "R", "conflicts": ["a", ""]}, "at least two"),
])
def test_sod_rule_validation(data, msg):
    with pytest.raises(ValueError, match=msg):
        SodRule.from_dict(data)


def test_sod_rule_name_defaults_to_id():
    assert SodRule.from_dict({"id": "R", "conflicts": ["a", "b"]}).name == "R"


def days_ago(days, **extra):
    return AS_OF - dt.timedelta(days=days, **extra)


def test_dormant_accounts():
    users = [
        user("active", {"a"}, last_login=days_ago(3)),
        user("boundary", {"a"}, last_login=days_ago(90)),  # exactly 90 days: dormant
        user("almost", {"a"}, last_login=days_ago(89, hours=23)),
        user("stale", {"a", "b", "c"}, last_login=days_ago(400)),
        user("disabled", {"a"}, last_login=days_ago(400), enabled=False),
        user("never-old", {"a"}, created=days_ago(120)),
        user("never-new", {"a"}, created=days_ago(10)),
        user("never-unknown", {"a", "b"}),
    ]
    got = {d["user"]: (d["days_inactive"], d["reason"]) for d in dormant_accounts(users, AS_OF)}
    assert got == {
        "boundary": (90, "no login for 90 days"),
        "stale": (400, "no login for 400 days"),
        "never-old": (120, "never logged in"),
        "never-unknown": (None, "never logged in (creation date unknown)"),
    }
    order = [d["user"] for d in dormant_accounts(users, AS_OF)]
    assert order == ["stale", "never-unknown", "boundary", "never-old"]  # most permissions first


def test_dormant_threshold_is_configurable():
    users = [user("u", last_login=days_ago(30))]
    assert dormant_accounts(users, AS_OF, dormant_days=31) == []
    assert [d["user"] for d in dormant_accounts(users, AS_OF, dormant_days=30)] == ["u"]
    with pytest.raises(ValueError):
        dormant_accounts(users, AS_OF, dormant_days=0)


BASE = {"gl:read", "gl:post", "ap:read"}


def analysts(n, dept="finance", title="analyst"):
    return [user(f"{dept}-{i}", BASE, department=dept, title=title) for i in range(n)]


def test_privilege_creep_flags_excess_against_peers():
    group = analysts(5) + [user("creeper", BASE | {"payments:approve", "iam:admin", "db:root"},
                                department="finance", title="analyst")]
    flagged, no_baseline = privilege_creep(group)
    assert [c.to_dict() for c in flagged] == [{
        "user": "creeper", "peer_group": "finance/analyst", "peers": 5,
        "excess": {"db:root": 0.0, "iam:admin": 0.0, "payments:approve": 0.0}}]
    assert no_baseline == []


def test_leave_one_out_baseline():
    # 3 peers: with the user counted in the baseline, x would be held by 1/4 = 25% and look normal
    group = analysts(3) + [user("u", BASE | {"x", "y"}, department="finance", title="analyst")]
    flagged, _ = privilege_creep(group, rare_below=0.2, min_excess=2)
    assert [c.user for c in flagged] == ["u"]


def test_rare_threshold_is_strict():
    # x is held by exactly 1 of the user's 5 peers: 0.2 is not below 0.2
    group = analysts(4) + [user("peer", BASE | {"x"}, department="finance", title="analyst"),
                           user("u", BASE | {"x", "y"}, department="finance", title="analyst")]
    assert privilege_creep(group, rare_below=0.2, min_excess=2)[0] == []
    flagged, _ = privilege_creep(group, rare_below=0.21, min_excess=2)
    assert [(c.user, c.excess) for c in flagged] == [("u", {"x": 0.2, "y": 0.0})]


def test_min_excess():
    group = analysts(4) + [user("u", BASE | {"x"}, department="finance", title="analyst")]
    assert privilege_creep(group, min_excess=2)[0] == []
    assert [c.user for c in privilege_creep(group, min_excess=1)[0]] == ["u"]


def test_small_groups_and_explicit_peer_groups():
    users = analysts(2, dept="legal") + [
        user("a", {"p"}, department="x", title="y", peer_group="Team-1"),
        user("b", {"p"}, department="z", title="w", peer_group="Team-1"),
        user("c", {"p"}, peer_group="Team-1"),
        user("d", {"p", "q", "r"}, peer_group="Team-1"),
    ]
    flagged, no_baseline = privilege_creep(users, min_peers=3)
    assert [(c.user, c.group, c.peers) for c in flagged] == [("d", "Team-1", 3)]
    assert no_baseline == ["legal-0", "legal-1"]


def test_flagged_are_ordered_by_excess():
    group = analysts(5) + [user("one", BASE | {"a", "b"}, department="finance", title="analyst"),
                           user("two", BASE | {"c", "d", "e"}, department="finance", title="analyst")]
    assert [c.user for c in privilege_creep(group)[0]] == ["two", "one"]


@pytest.mark.parametrize("kwargs", [{"rare_below": 0}, {"rare_below": 1.5}, {"min_excess": 0}, {"min_peers": 0}])
def test_privilege_creep_validation(kwargs):
    with pytest.raises(ValueError):
        privilege_creep([], **kwargs)
