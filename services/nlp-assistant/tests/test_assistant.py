import datetime as dt

import pytest

from nlp_assistant.assistant import HELP, Assistant, cve_problem, ip_scope
from nlp_assistant.classifier import IntentClassifier, load_examples

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
TODAY = dt.date(2024, 6, 1)


class FixedIntent:
    """A classifier stub: the templates are tested apart from the model."""

    def __init__(self, intent, confidence=0.9):
        self.result = (intent, confidence, {intent: confidence})

    def classify(self, text):
        return self.result


def ask(intent, question):
    return Assistant(FixedIntent(intent), today=TODAY).ask(question)


@pytest.mark.parametrize("ip,scope", [
    ("185.220.101.4", "public"),
    ("8.8.8.8", "public"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("169.254.10.10", "link-local"),
    ("224.0.0.251", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "reserved"),  # carrier-grade NAT: neither private nor global
    ("240.0.0.1", "reserved"),
    ("2001:4860:4860::8888", "public"),
    ("fe80::1", "link-local"),
    ("::1", "loopback"),
    ("fd00::1", "private"),
    ("::ffff:10.0.0.1", "private"),  # IPv4-mapped: judged as the IPv4 address
])
def test_ip_scope(ip, scope):
    assert ip_scope(ip) == scope


@pytest.mark.parametrize("cve,problem", [
    ("CVE-2021-44228", None),
    ("CVE-1999-0001", None),
    ("CVE-2025-0001", None),  # next year's ids are reserved early
    ("CVE-1998-0001", "CVE ids start in 1999"),
    ("CVE-2026-0001", "year 2026 is in the future"),
])
def test_cve_problem(cve, problem):
    assert cve_problem(cve, TODAY) == problem


def test_ip_reputation_splits_public_and_internal():
    a = ask("ip_reputation", "are 185.220.101.4 and 10.0.0.5 bad")
    assert a.answer.startswith("185.220.101.4: public address")
    assert "10.0.0.5: private address" in a.answer
    assert a.actions == [
        {"type": "lookup", "service": "threat-intelligence", "observable": "185.220.101.4"},
        {"type": "lookup", "service": "asset-inventory", "observable": "10.0.0.5"},
    ]
    assert not a.needs_input


def test_missing_entity_asks_a_follow_up():
    a = ask("ip_reputation", "is this ip bad")
    assert a.needs_input and a.actions == []
    assert a.answer == "Which IP address should I look up?"


@pytest.mark.parametrize("intent", ["cve_lookup", "hash_lookup", "domain_lookup", "block_indicator"])
def test_every_indicator_intent_asks_when_nothing_was_given(intent):
    assert ask(intent, "please do the thing").needs_input


def test_block_takes_any_indicator_kind():
    # a hash alone satisfies block_indicator, which needs ips OR domains OR hashes
    a = ask("block_indicator", f"block {MD5}")
    assert not a.needs_input
    assert a.actions == [{"type": "block", "target": "edr", "observable": MD5, "requires_approval": True}]


def test_block_never_targets_internal_addresses():
    a = ask("block_indicator", "block 185.220.101.4, 192.168.0.10, 127.0.0.1 and evil[.]com")
    targets = [(x["target"], x["observable"]) for x in a.actions]
    assert targets == [("firewall", "185.220.101.4"), ("dns", "evil.com")]
    assert all(x["requires_approval"] for x in a.actions)
    assert "Not blocking 192.168.0.10: it is a private address." in a.answer
    assert "Not blocking 127.0.0.1: it is a loopback address." in a.answer
    assert a.answer.startswith("Proposed blocks awaiting approval: 185.220.101.4 (firewall), evil.com (dns).")


def test_block_of_only_internal_addresses_proposes_nothing():
    a = ask("block_indicator", "block 10.0.0.1")
    assert a.actions == []
    assert a.answer == "Not blocking 10.0.0.1: it is a private address."


def test_cve_answers_and_rejects_impossible_ids():
    a = ask("cve_lookup", "about CVE-2021-44228 and CVE-2031-0001")
    assert a.actions == [{"type": "lookup", "service": "vulnerability-management", "observable": "CVE-2021-44228"}]
    assert "CVE-2031-0001 does not look valid: year 2031 is in the future." in a.answer


def test_cve_uses_todays_date_by_default():
    a = Assistant(FixedIntent("cve_lookup")).ask("CVE-2021-44228")
    assert a.actions and a.actions[0]["observable"] == "CVE-2021-44228"


def test_hash_answer_names_the_algorithm():
    a = ask("hash_lookup", f"check {SHA256} and {MD5}")
    assert a.answer.startswith(f"SHA256 {SHA256}:")
    assert f"MD5 {MD5}:" in a.answer
    assert [x["observable"] for x in a.actions] == [SHA256, MD5]


def test_domain_answer():
    a = ask("domain_lookup", "is login-paypa1[.]com or evil.net phishing")
    assert a.answer == "Checking reputation, registration age and lookalike status of login-paypa1.com, evil.net."
    assert len(a.actions) == 2


def test_incident_status_and_fallbacks():
    assert ask("incident_status", "open incidents?").actions == [{"type": "query", "service": "case-management"}]
    assert ask("greeting", "hi").answer == HELP
    assert ask("unknown", "asdf").answer == HELP


@pytest.mark.parametrize("question", ["", "   ", None])
def test_rejects_empty_questions(question):
    with pytest.raises(ValueError):
        ask("greeting", question)


def test_end_to_end_with_the_bundled_model():
    a = Assistant(IntentClassifier(load_examples()), today=TODAY).ask("please block evil[.]com")
    d = a.to_dict()
    assert d["intent"] == "block_indicator" and 0.4 <= d["confidence"] <= 1
    assert d["entities"]["domains"] == ["evil.com"]
    assert d["actions"][0]["target"] == "dns"
    assert d["needs_input"] is False
