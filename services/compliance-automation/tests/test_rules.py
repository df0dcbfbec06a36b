import pytest

from compliance_automation.rules import (
    FAIL, NA, PASS, Control, RuleError, apply_op, check_condition, evaluate, load_controls,
    parse_selector, same, select,
)

DOC = {
    "ssh": {"permit_root_login": "no", "max_auth_tries": 4, "password_authentication": False},
    "sysctl": {"net.ipv4.ip_forward": 0},
    "services": [{"name": "sshd", "enabled": True}, {"name": "telnet", "enabled": False},
                 {"name": "cron", "enabled": True}],
    "users": [{"name": "alice", "admin": True, "mfa": True}, {"name": "bob", "admin": False, "mfa": False},
              {"name": "carol", "admin": True, "mfa": True}],
    "ports": [22, 443],
    "tags": {"env": "prod", "tier": "web"},
    "password_policy": {"min_length": "14"},
}


@pytest.mark.parametrize("selector,segments", [
    ("a", [("key", "a")]),
    ("a.b_c.d-e", [("key", "a"), ("key", "b_c"), ("key", "d-e")]),
    ('sysctl."net.ipv4.ip_forward"', [("key", "sysctl"), ("key", "net.ipv4.ip_forward")]),
    ("a[0].b", [("key", "a"), ("index", 0), ("key", "b")]),
    ("a[*]", [("key", "a"), ("all", None)]),
    ("a.*.b", [("key", "a"), ("all", None), ("key", "b")]),
    ("a[name=sshd]", [("key", "a"), ("filter", ("name", "sshd"))]),
    ("[1]", [("index", 1)]),
])
def test_parse_selector(selector, segments):
    assert parse_selector(selector) == segments


@pytest.mark.parametrize("selector", ["", ".a", "a..b", "a.", "a.[0]", "a b", 'a"b"', "a[x]", "a[", None])
def test_parse_selector_rejects(selector):
    with pytest.raises(RuleError):
        parse_selector(selector)


@pytest.mark.parametrize("selector,expected", [
    ("ssh.permit_root_login", [("ssh.permit_root_login", "no")]),
    ("ssh.missing", []),
    ("ssh.permit_root_login.deeper", []),
    ('sysctl."net.ipv4.ip_forward"', [('sysctl."net.ipv4.ip_forward"', 0)]),
    ("ports[1]", [("ports[1]", 443)]),
    ("ports[2]", []),
    ("ssh[0]", []),
    ("ports[*]", [("ports[0]", 22), ("ports[1]", 443)]),
    ("tags.*", [("tags.env", "prod"), ("tags.tier", "web")]),
    ("services[name=telnet].enabled", [("services[1].enabled", False)]),
    ("services[name=ftp].enabled", []),
    ("users[admin=true].name", [("users[0].name", "alice"), ("users[2].name", "carol")]),
    ("users[admin=false].mfa", [("users[1].mfa", False)]),
    ("users[*].mfa", [("users[0].mfa", True), ("users[1].mfa", False), ("users[2].mfa", True)]),
    ("ssh[name=x]", []),
    ("ports.*", [("ports[0]", 22), ("ports[1]", 443)]),
    ("ssh.max_auth_tries.*", []),
])
def test_select(selector, expected):
    assert select(DOC, selector) == expected


def test_select_root_list():
    assert select([{"a": 1}, {"a": 2}], "[*].a") == [("[0].a", 1), ("[1].a", 2)]
    assert select({"": 1}, "*") == [("", 1)]


@pytest.mark.parametrize("a,b,expected", [
    (True, True, True), (True, 1, False), (1, True, False), (0, False, False), (1, 1.0, True),
    ("no", "no", True), ("1", 1, False), (None, None, True), ([1], [1], True),
])
def test_same_is_strict_about_bools(a, b, expected):
    assert same(a, b) is expected


@pytest.mark.parametrize("op,actual,operand,ok,note", [
    ("equals", "no", "no", True, ""),
    ("equals", "No", "no", False, ""),
    ("equals", 1, True, False, ""),
    ("not_equals", "yes", "no", True, ""),
    ("not_equals", "no", "no", False, ""),
    ("in", "no", ["no", "prohibit-password"], True, ""),
    ("in", 1, [True], False, ""),
    ("in", "yes", ["no"], False, ""),
    ("not_in", "telnet", ["ssh"], True, ""),
    ("not_in", "ssh", ["ssh"], False, ""),
    ("regex", "time1.example", r"[a-z0-9.]+", True, ""),
    ("regex", "time1.example!", r"[a-z0-9.]+", False, ""),  # the whole string must match
    ("regex", "xtime", r"time", False, ""),
    ("regex", 5, r"\d", False, "not a string"),
    ("minimum", 14, 14, True, ""),
    ("minimum", 13, 14, False, ""),
    ("minimum", 13.9, 14, False, ""),
    ("minimum", "14", 14, False, "not a number"),
    ("minimum", True, 0, False, "not a number"),
    ("maximum", 4, 4, True, ""),
    ("maximum", 5, 4, False, ""),
    ("maximum", None, 4, False, "not a number"),
])
def test_apply_op(op, actual, operand, ok, note):
    assert apply_op(op, actual, operand) == (ok, note)


def status(cond):
    check_condition(cond, "t")
    return evaluate(cond, DOC).status


@pytest.mark.parametrize("cond,expected", [
    ({"path": "ssh.permit_root_login", "equals": "no"}, PASS),
    ({"path": "ssh.permit_root_login", "equals": "yes"}, FAIL),
    ({"path": "ssh.nope", "equals": "no"}, FAIL),  # missing fails by default
    ({"path": "ssh.nope", "equals": "no", "if_missing": "pass"}, PASS),
    ({"path": "ssh.nope", "equals": "no", "if_missing": "not_applicable"}, NA),
    ({"path": "ssh.nope", "exists": False}, PASS),
    ({"path": "ssh.nope", "exists": True}, FAIL),
    ({"path": "ssh.max_auth_tries", "exists": True}, PASS),
    ({"path": "ssh.max_auth_tries", "exists": False}, FAIL),
    ({"path": "users[*].mfa", "equals": True}, FAIL),  # match all by default
    ({"path": "users[*].mfa", "equals": True, "match": "any"}, PASS),
    ({"path": "users[admin=true].mfa", "equals": True}, PASS),
    ({"path": "services[*].name", "not_in": ["telnet", "ftp"]}, FAIL),
    ({"path": "password_policy.min_length", "minimum": 14}, FAIL),  # "14" is text
    ({"all": [{"path": "ssh.max_auth_tries", "minimum": 1}, {"path": "ssh.max_auth_tries", "maximum": 4}]}, PASS),
    ({"all": [{"path": "ssh.max_auth_tries", "minimum": 1}, {"path": "ssh.max_auth_tries", "maximum": 3}]}, FAIL),
    ({"any": [{"path": "ssh.max_auth_tries", "maximum": 3}, {"path": "ssh.permit_root_login", "equals": "no"}]},
     PASS),
    ({"any": [{"path": "ssh.max_auth_tries", "maximum": 3}, {"path": "ssh.permit_root_login", "equals": "x"}]},
     FAIL),
    # n/a is neutral in all/any ...
    ({"all": [{"path": "nope", "equals": 1, "if_missing": "not_applicable"},
              {"path": "ssh.permit_root_login", "equals": "no"}]}, PASS),
    ({"all": [{"path": "nope", "equals": 1, "if_missing": "not_applicable"},
              {"path": "ssh.permit_root_login", "equals": "yes"}]}, FAIL),
    ({"any": [{"path": "nope", "equals": 1, "if_missing": "not_applicable"},
              {"path": "ssh.permit_root_login", "equals": "yes"}]}, FAIL),
    # ... unless everything is n/a
    ({"all": [{"path": "nope", "equals": 1, "if_missing": "not_applicable"}]}, NA),
    ({"any": [{"path": "nope", "equals": 1, "if_missing": "not_applicable"}]}, NA),
    ({"not": {"path": "ssh.permit_root_login", "equals": "no"}}, FAIL),
    ({"not": {"path": "ssh.permit_root_login", "equals": "yes"}}, PASS),
    ({"not": {"path": "nope", "equals": 1, "if_missing": "not_applicable"}}, NA),
])
def test_evaluate(cond, expected):
    assert status(cond) == expected


def test_evidence_lists_every_value():
    out = evaluate({"path": "users[*].mfa", "equals": True}, DOC)
    assert out.evidence == [
        {"path": "users[0].mfa", "expected": "equals true", "actual": True, "ok": True},
        {"path": "users[1].mfa", "expected": "equals true", "actual": False, "ok": False},
        {"path": "users[2].mfa", "expected": "equals true", "actual": True, "ok": True},
    ]
    out = evaluate({"path": "password_policy.min_length", "minimum": 14}, DOC)
    assert out.evidence[0]["note"] == "not a number"
    out = evaluate({"path": "ssh.nope", "in": ["a"]}, DOC)
    assert out.evidence == [{"path": "ssh.nope", "expected": 'in ["a"]', "actual": None, "ok": False,
                             "note": "no value at path"}]
    out = evaluate({"path": "ssh", "exists": True}, DOC)
    assert out.evidence == [{"path": "ssh", "expected": "exists true", "actual": "1 value(s)", "ok": True}]


@pytest.mark.parametrize("cond,msg", [
    ([], "must be an object"),
    ({"all": []}, "non-empty list"),
    ({"any": {}}, "non-empty list"),
    ({"not": []}, "must be an object"),
    ({"path": "a"}, "exactly one of"),
    ({"path": "a", "equals": 1, "in": [1]}, "exactly one of"),
    ({"path": "a", "equals": 1, "colour": "red"}, "unknown key"),
    ({"path": "a..b", "equals": 1}, "bad path"),
    ({"equals": 1}, "path must be"),
    ({"path": "a", "equals": 1, "match": "most"}, "match must be"),
    ({"path": "a", "equals": 1, "if_missing": "ignore"}, "if_missing"),
    ({"path": "a", "in": "abc"}, "needs a list"),
    ({"path": "a", "not_in": 3}, "needs a list"),
    ({"path": "a", "minimum": "14"}, "needs a number"),
    ({"path": "a", "maximum": True}, "needs a number"),
    ({"path": "a", "exists": "yes"}, "true or false"),
    ({"path": "a", "regex": "("}, "invalid regex"),
    ({"path": "a", "regex": 5}, "invalid regex"),
])
def test_check_condition_rejects(cond, msg):
    with pytest.raises(RuleError, match=msg):
        check_condition(cond, "t")


CONTROL = {"id": "C-1", "title": "root login off", "severity": "high",
           "frameworks": {"CIS": ["5.2.10"], "NIST": ["AC-6"]},
           "applies_if": {"path": "services[name=sshd].enabled", "equals": True, "if_missing": "not_applicable"},
           "check": {"path": "ssh.permit_root_login", "equals": "no"}}


def test_control_evaluation_and_applicability():
    c = Control.from_dict(CONTROL)
    assert c.frameworks == {"CIS": ("5.2.10",), "NIST": ("AC-6",)}
    assert c.evaluate(DOC).status == PASS
    assert c.evaluate({**DOC, "ssh": {"permit_root_login": "yes"}}).status == FAIL
    no_sshd = {**DOC, "services": [{"name": "sshd", "enabled": False}]}
    r = c.evaluate(no_sshd)
    assert (r.status, r.reason) == (NA, "applies_if not met")
    assert r.to_dict()["reason"] == "applies_if not met"
    assert c.evaluate({"ssh": {"permit_root_login": "yes"}}).status == NA  # no services at all
    d = c.evaluate(DOC).to_dict()
    assert d["status"] == PASS and "reason" not in d and d["frameworks"] == {"CIS": ["5.2.10"], "NIST": ["AC-6"]}


def test_control_defaults():
    c = Control.from_dict({"id": "x", "check": {"path": "a", "exists": True}})
    assert (c.title, c.severity, c.frameworks, c.applies_if) == ("", "medium", {}, None)


@pytest.mark.parametrize("patch,msg", [
    ({"id": ""}, "id is required"),
    ({"title": 3}, "title"),
    ({"severity": "urgent"}, "severity"),
    ({"check": None}, "must be an object"),
    ({"applies_if": {"path": "a"}}, "exactly one of"),
    ({"frameworks": {"CIS": []}}, "frameworks"),
    ({"frameworks": {"CIS": "5.2"}}, "frameworks"),
    ({"frameworks": ["CIS"]}, "frameworks"),
    ({"owner": "me"}, "unknown field"),
])
def test_control_validation(patch, msg):
    with pytest.raises(RuleError, match=msg):
        Control.from_dict({**CONTROL, **patch})


def test_control_needs_a_check():
    data = dict(CONTROL)
    del data["check"]
    with pytest.raises(RuleError, match="check is required"):
        Control.from_dict(data)
    with pytest.raises(RuleError, match="must be an object"):
        Control.from_dict("C-1")


def test_load_controls():
    assert [c.id for c in load_controls({"controls": [CONTROL]})] == ["C-1"]
    assert len(load_controls([CONTROL, {**CONTROL, "id": "C-2"}])) == 2
    with pytest.raises(RuleError, match="duplicate control id"):
        load_controls([CONTROL, CONTROL])
    with pytest.raises(RuleError, match="non-empty list"):
        load_controls([])
    with pytest.raises(RuleError, match="non-empty list"):
        load_controls({"rules": []})
