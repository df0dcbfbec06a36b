import datetime as dt

import pytest

from email_security.headers import (
    addresses, authentication, chain_issues, decode_words, parse_auth_results, parse_date, parse_message,
    received_chain, strip_comments, unfold,
)

UTC = dt.timezone.utc


def msg(*lines):
    return parse_message("\r\n".join(lines) + "\r\n\r\nbody text\r\n")


@pytest.mark.parametrize("text,expected", [
    ("spf=pass (sender ok) smtp.mailfrom=a", "spf=pass  smtp.mailfrom=a"),
    ("a (nested (deep) comment) b", "a  b"),
    ('x="quoted (not a comment)" y', 'x="quoted (not a comment)" y'),
    (r"a (escaped \) paren) b", "a  b"),
    (r"a \(literal\) b", r"a \(literal\) b"),
    ("unbalanced ) stays", "unbalanced ) stays"),
])
def test_strip_comments(text, expected):
    assert strip_comments(text) == expected


def test_unfold_and_decode_words():
    assert unfold("a\r\n  b\n\tc ") == "a b c"
    assert decode_words("=?utf-8?b?UGF5UGFsIOKAkyBTdXBwb3J0?=") == "PayPal – Support"
    assert decode_words("=?utf-8?q?Hello_World?=") == "Hello World"
    assert decode_words("plain") == "plain"
    assert decode_words("=?unknown-charset?q?x?=") == "=?unknown-charset?q?x?="


def test_parse_auth_results():
    ar = parse_auth_results(
        "MX.Example.COM 1; spf=pass (sender IP is 198.51.100.7) smtp.mailfrom=news.example;\r\n"
        "  dkim=pass header.d=news.example header.s=sel1 header.b=\"abc;d\"; dkim/1=fail header.d=other.example;\r\n"
        "  dmarc=FAIL (p=REJECT sp=REJECT) header.from=news.example; x-custom=weird; garbage")
    assert ar.authserv_id == "mx.example.com"
    got = [(r.method, r.result, r.properties) for r in ar.results]
    assert got[0] == ("spf", "pass", {"smtp.mailfrom": "news.example"})
    assert got[1][:2] == ("dkim", "pass") and got[1][2]["header.d"] == "news.example"
    assert got[2] == ("dkim", "fail", {"header.d": "other.example"})
    assert got[3] == ("dmarc", "fail", {"header.from": "news.example"})
    assert got[4] == ("x-custom", "weird", {})
    assert len(got) == 5


def test_parse_auth_results_none():
    ar = parse_auth_results("mx.example.com; none")
    assert ar.authserv_id == "mx.example.com" and ar.results == []
    assert parse_auth_results("").authserv_id == ""


TOP = "Authentication-Results: mx.acme.example; spf=fail smtp.mailfrom=x.example; dkim=fail; dmarc=fail"
FORGED = "Authentication-Results: attacker.example; spf=pass; dkim=pass; dmarc=pass"


def test_only_the_topmost_results_count_by_default():
    a = authentication(msg(TOP, FORGED, "From: a@x.example"))
    assert (a.authserv_id, a.spf, a.dkim, a.dmarc) == ("mx.acme.example", "fail", "fail", "fail")
    assert a.ignored == ["attacker.example"]
    # a forged header on top of ours would win without a trusted id ...
    a = authentication(msg(FORGED, TOP))
    assert a.dmarc == "pass"
    # ... which is why production configures the trusted authserv-ids
    a = authentication(msg(FORGED, TOP), trusted_ids=["MX.ACME.EXAMPLE"])
    assert (a.authserv_id, a.dmarc) == ("mx.acme.example", "fail")
    assert a.ignored == ["attacker.example"]


def test_untrusted_only_means_none():
    a = authentication(msg(FORGED), trusted_ids=["mx.acme.example"])
    assert (a.authserv_id, a.spf, a.dkim, a.dmarc) == (None, "none", "none", "none")
    assert authentication(msg("From: a@b.example")).to_dict() == {
        "authserv_id": None, "spf": "none", "dkim": "none", "dmarc": "none", "details": {}, "ignored": []}


@pytest.mark.parametrize("results,spf,dkim,dmarc", [
    ("spf=softfail; dkim=fail header.d=a; dkim=pass header.d=b; dmarc=pass", "softfail", "pass", "pass"),
    ("spf=neutral; dkim=fail header.d=a; dkim=temperror header.d=b", "neutral", "fail", "none"),
    ("spf=pass; spf=fail", "pass", "none", "none"),  # the first result of a method counts
    ("spf=bogus", "permerror", "none", "none"),  # unknown results are errors, not passes
    ("dmarc=permerror; spf=temperror", "temperror", "none", "permerror"),
])
def test_method_results(results, spf, dkim, dmarc):
    a = authentication(msg(f"Authentication-Results: mx.example; {results}"))
    assert (a.spf, a.dkim, a.dmarc) == (spf, dkim, dmarc)


def test_passing_dkim_details_are_reported():
    a = authentication(msg("Authentication-Results: mx.example; dkim=fail header.d=a.example; "
                           "dkim=pass header.d=b.example"))
    assert a.details["dkim"] == {"header.d": "b.example"}


def test_addresses():
    m = msg('From: "Support, PayPal" <service@PayPal.com.>', "Reply-To: =?utf-8?q?B=C3=B6b?= <bob@x.example>",
            "To: a@one.example, b@two.example", "Cc: undisclosed-recipients:;")
    sender = addresses(m, "From")[0]
    assert (sender.display_name, sender.address, sender.domain) == ("Support, PayPal", "service@PayPal.com.",
                                                                    "paypal.com")
    assert addresses(m, "Reply-To")[0].display_name == "Böb"
    assert [a.domain for a in addresses(m, "To")] == ["one.example", "two.example"]
    assert addresses(m, "Cc") == []
    assert addresses(m, "Sender") == []
    assert addresses(msg("From: not-an-address"), "From")[0].domain == ""


@pytest.mark.parametrize("text,expected", [
    ("Mon, 03 Jun 2024 10:00:00 +0200", dt.datetime(2024, 6, 3, 8, tzinfo=UTC)),
    ("Mon, 03 Jun 2024 10:00:00 -0000", dt.datetime(2024, 6, 3, 10, tzinfo=UTC)),  # unknown zone: UTC
    ("3 Jun 2024 10:00:00 GMT", dt.datetime(2024, 6, 3, 10, tzinfo=UTC)),
    ("yesterday", None),
    ("", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


RECEIVED = [
    "Received: from mx1.acme.example (mx1.acme.example [10.0.0.5])\r\n"
    "\tby inbound.acme.example with ESMTP id 1; Mon, 03 Jun 2024 10:00:05 +0000",
    "Received: from mail.sender.example (mail.sender.example [IPv6:2001:DB8::25]) by mx1.acme.example\r\n"
    " (Postfix) with ESMTPS id 2; Mon, 03 Jun 2024 12:00:03 +0200",
    "Received: from [192.0.2.9] (helo=laptop) by mail.sender.example; Mon, 03 Jun 2024 09:59:58 +0000",
]


def test_received_chain_is_read_bottom_up():
    hops = received_chain(msg(*RECEIVED))
    assert [(h.index, h.from_host, h.by_host, h.ip) for h in hops] == [
        (1, "[192.0.2.9]", "mail.sender.example", "192.0.2.9"),
        (2, "mail.sender.example", "mx1.acme.example", "2001:db8::25"),
        (3, "mx1.acme.example", "inbound.acme.example", "10.0.0.5"),
    ]
    assert [h.time for h in hops] == [dt.datetime(2024, 6, 3, 9, 59, 58, tzinfo=UTC),
                                      dt.datetime(2024, 6, 3, 10, 0, 3, tzinfo=UTC),
                                      dt.datetime(2024, 6, 3, 10, 0, 5, tzinfo=UTC)]
    assert hops[0].to_dict()["time"] == "2024-06-03T09:59:58+00:00"


def test_received_without_date_or_clauses():
    hops = received_chain(msg("Received: by localhost", "Received: from x [not-an-ip] by y; garbage"))
    assert [(h.from_host, h.by_host, h.ip, h.time) for h in hops] == [
        ("x", "y", None, None), (None, "localhost", None, None)]
    assert hops[1].to_dict()["time"] is None


def hop_times(*minutes):
    hops = received_chain(msg(*[
        f"Received: from h{i} by h{i + 1}; Mon, 03 Jun 2024 10:{m:02d}:00 +0000"
        for i, m in reversed(list(enumerate(minutes)))]))
    assert [h.time.minute for h in hops] == list(minutes)
    return hops


def test_chain_issues():
    assert chain_issues(hop_times(0, 1, 2), None, 300, 86400) == []
    # 4 minutes backwards is within a 5-minute tolerance; 6 is not
    assert chain_issues(hop_times(10, 6), None, 300, 86400) == []
    assert chain_issues(hop_times(10, 4), None, 300, 86400) == ["hop 2 is stamped 360s before hop 1"]
    assert chain_issues(hop_times(0, 30), None, 300, 600) == ["hop 2 arrived 1800s after hop 1"]
    assert chain_issues(hop_times(0, 10), None, 300, 600) == []  # exactly the max delay is fine


def test_date_header_after_first_hop():
    hops = hop_times(10, 11)
    date = dt.datetime(2024, 6, 3, 10, 20, tzinfo=UTC)
    assert chain_issues(hops, date, 300, 86400) == ["Date header is 600s after the first hop"]
    assert chain_issues(hops, date - dt.timedelta(minutes=6), 300, 86400) == []
    assert chain_issues(hops, date - dt.timedelta(hours=2), 300, 86400) == []  # written earlier: fine


def test_undated_hops_are_reported_and_skipped():
    hops = received_chain(msg("Received: from b by c; Mon, 03 Jun 2024 10:00:00 +0000",
                              "Received: from a by b", "Received: from z by a; Mon, 03 Jun 2024 09:59:00 +0000"))
    assert chain_issues(hops, None, 300, 86400) == ["1 Received header(s) without a parsable date"]
