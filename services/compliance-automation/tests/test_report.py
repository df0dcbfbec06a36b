import pytest

from compliance_automation.report import (
    build_report, bundled_controls, framework_report, natural_key, percent, summary,
)
from compliance_automation.rules import FAIL, NA, PASS, Control, Result

HARDENED = {
    "roles": ["webserver"],
    "ssh": {"permit_root_login": "no", "password_authentication": False, "max_auth_tries": 4},
    "password_policy": {"min_length": 14, "max_age_days": 90},
    "firewall": {"enabled": True, "default_inbound": "deny"},
    "services": [{"name": "sshd", "enabled": True}, {"name": "auditd", "enabled": True}],
    "sysctl": {"net.ipv4.ip_forward": 0},
    "ntp": {"servers": ["time1.example", "time2.example"]},
    "users": [{"name": "alice", "admin": True, "mfa": True}, {"name": "bob", "admin": False}],
    "tls": {"min_version": "1.2"},
    "logging": {"retention_days": 400},
}


def by_id(report):
    return {r["id"]: r["status"] for r in report["results"]}


def test_bundled_controls_load():
    controls = bundled_controls()
    assert len(controls) >= 10
    assert {f for c in controls for f in c.frameworks} == {"CIS", "NIST-800-53", "PCI-DSS"}


def test_hardened_host_is_fully_compliant():
    report = build_report(bundled_controls(), HARDENED)
    assert set(by_id(report).values()) == {PASS}
    assert report["summary"]["percent_compliant"] == 100.0
    assert all(fw["percent_compliant"] == 100.0 for fw in report["frameworks"].values())


@pytest.mark.parametrize("change,control,expected", [
    ({"ssh": {**HARDENED["ssh"], "permit_root_login": "yes"}}, "LNX-SSH-01", FAIL),
    ({"ssh": {**HARDENED["ssh"], "max_auth_tries": 5}}, "LNX-SSH-03", FAIL),
    ({"services": [{"name": "auditd", "enabled": True}]}, "LNX-SSH-01", NA),  # no sshd
    ({"password_policy": {"min_length": 13, "max_age_days": 90}}, "LNX-PWD-01", FAIL),
    ({"password_policy": {"min_length": 14, "max_age_days": 0}}, "LNX-PWD-02", FAIL),
    ({"password_policy": {"min_length": 14, "max_age_days": 366}}, "LNX-PWD-02", FAIL),
    ({"firewall": {"enabled": True, "default_inbound": "accept"}}, "LNX-FW-01", FAIL),
    ({"firewall": {"enabled": 1, "default_inbound": "deny"}}, "LNX-FW-01", FAIL),  # 1 is not true
    ({"services": HARDENED["services"] + [{"name": "telnet", "enabled": True}]}, "LNX-SVC-01", FAIL),
    ({"services": HARDENED["services"] + [{"name": "telnet", "enabled": False}]}, "LNX-SVC-01", PASS),
    ({"services": [{"name": "sshd", "enabled": True}]}, "LNX-AUD-01", FAIL),
    ({"sysctl": {"net.ipv4.ip_forward": 1}}, "LNX-NET-01", FAIL),
    ({"sysctl": {"net.ipv4.ip_forward": 1}, "roles": ["router"]}, "LNX-NET-01", NA),
    ({"ntp": {"servers": []}}, "LNX-TIME-01", FAIL),
    ({"users": [{"name": "alice", "admin": True, "mfa": False}]}, "IAM-MFA-01", FAIL),
    ({"users": [{"name": "bob", "admin": False}]}, "IAM-MFA-01", NA),
    ({"tls": {"min_version": "1.0"}}, "WEB-TLS-01", FAIL),
    ({"tls": {"min_version": "1.0"}, "roles": ["database"]}, "WEB-TLS-01", NA),
    ({"logging": {"retention_days": 90}}, "LOG-RET-01", FAIL),
])
def test_bundled_controls_catch_misconfiguration(change, control, expected):
    assert by_id(build_report(bundled_controls(), {**HARDENED, **change}))[control] == expected


def result(cid, status, frameworks, severity="medium"):
    control = Control(cid, cid, severity, {"path": "x", "exists": True},
                      {k: tuple(v) for k, v in frameworks.items()})
    return Result(control, status, [])


def test_framework_report_requirement_rollup():
    results = [
        result("A", PASS, {"CIS": ["1.1"], "NIST": ["AC-2"]}),
        result("B", FAIL, {"CIS": ["1.1", "1.2"]}),  # one failing control fails requirement 1.1
        result("C", PASS, {"CIS": ["1.3"]}),
        result("D", NA, {"CIS": ["1.3", "1.4"]}),  # n/a alongside a pass: still pass
        result("E", NA, {"NIST": ["AU-2"]}),
    ]
    fw = framework_report(results)
    assert fw["CIS"]["requirements"] == {"1.1": FAIL, "1.2": FAIL, "1.3": PASS, "1.4": NA}
    assert (fw["CIS"]["passed"], fw["CIS"]["failed"], fw["CIS"]["not_applicable"]) == (1, 2, 1)
    assert fw["CIS"]["percent_compliant"] == 33.3
    assert fw["CIS"]["failing_controls"] == {"1.1": ["B"], "1.2": ["B"]}
    assert fw["NIST"]["requirements"] == {"AC-2": PASS, "AU-2": NA}
    assert fw["NIST"]["percent_compliant"] == 100.0  # n/a does not count against
    assert list(fw) == ["CIS", "NIST"]


def test_framework_with_nothing_applicable_has_no_percentage():
    fw = framework_report([result("A", NA, {"PCI": ["1"]})])
    assert fw["PCI"]["percent_compliant"] is None


def test_requirements_sort_naturally():
    fw = framework_report([result("A", PASS, {"CIS": ["5.2.10", "5.2.7", "10.1", "2.1"]})])
    assert list(fw["CIS"]["requirements"]) == ["2.1", "5.2.7", "5.2.10", "10.1"]
    assert sorted(["AC-10", "AC-2", "AU-1"], key=natural_key) == ["AC-2", "AC-10", "AU-1"]


@pytest.mark.parametrize("passed,failed,expected", [(0, 0, None), (1, 0, 100.0), (0, 3, 0.0), (2, 1, 66.7)])
def test_percent(passed, failed, expected):
    assert percent(passed, failed) == expected


def test_summary():
    s = summary([result("A", FAIL, {}, "low"), result("B", FAIL, {}, "critical"), result("C", PASS, {}),
                 result("D", NA, {}), result("E", FAIL, {}, "critical")])
    assert s == {"controls": 5, "passed": 1, "failed": 3, "not_applicable": 1, "percent_compliant": 25.0,
                 "failed_by_severity": {"critical": ["B", "E"], "low": ["A"]}}
    assert list(s["failed_by_severity"]) == ["critical", "low"]


def test_build_report_framework_filter():
    controls = [Control("A", "", "low", {"path": "a", "exists": True}, {"CIS": ("1",)}),
                Control("B", "", "low", {"path": "b", "exists": True}, {"PCI": ("2",), "CIS": ("3",)}),
                Control("C", "", "low", {"path": "c", "exists": True}, {"NIST": ("4",)})]
    report = build_report(controls, {"a": 1}, frameworks=["PCI"])
    assert [r["id"] for r in report["results"]] == ["B"]
    assert list(report["frameworks"]) == ["PCI"]
    full = build_report(controls, {"a": 1})
    assert full["summary"]["controls"] == 3 and list(full["frameworks"]) == ["CIS", "NIST", "PCI"]
