import pytest

from email_security.analyzer import CLEAN, MALICIOUS, SUSPICIOUS, Settings, analyse, verdict_for

PROTECTED = ["acmesecurity.com", "paypal.com", "acme-corp.com"]
SETTINGS = Settings(PROTECTED, trusted_authserv_ids=["mx.acmesecurity.com"])
PASSING = "Authentication-Results: mx.acmesecurity.com; spf=pass; dkim=pass; dmarc=pass"


def message(*headers, auth=PASSING):
    lines = list(headers)
    if auth:
        lines.insert(0, auth)
    if not any(h.lower().startswith("from:") for h in headers):
        lines.append("From: Alice <alice@partner.example>")
    lines += ["To: bob@acmesecurity.com", "Subject: hello"]
    return "\r\n".join(lines) + "\r\n\r\n"


def codes(report):
    return [r["code"] for r in report["reasons"]]


@pytest.mark.parametrize("score,verdict", [(0, CLEAN), (24, CLEAN), (25, SUSPICIOUS), (59, SUSPICIOUS),
                                           (60, MALICIOUS), (200, MALICIOUS)])
def test_verdict_thresholds(score, verdict):
    assert verdict_for(score) == verdict


def test_clean_message():
    report = analyse(message(), SETTINGS)
    assert (report["verdict"], report["score"], report["reasons"]) == (CLEAN, 0, [])
    assert report["from"]["domain"] == "partner.example"
    assert report["subject"] == "hello"
    assert report["authentication"]["dmarc"] == "pass"


@pytest.mark.parametrize("auth,expected_codes,score", [
    ("Authentication-Results: mx.acmesecurity.com; spf=pass; dkim=pass; dmarc=fail", ["dmarc-fail"], 40),
    ("Authentication-Results: mx.acmesecurity.com; spf=fail; dkim=pass; dmarc=pass", ["spf-fail"], 20),
    ("Authentication-Results: mx.acmesecurity.com; spf=softfail; dkim=pass; dmarc=pass", ["spf-softfail"], 10),
    ("Authentication-Results: mx.acmesecurity.com; spf=neutral; dkim=pass; dmarc=pass", [], 0),
    ("Authentication-Results: mx.acmesecurity.com; spf=pass; dkim=fail; dmarc=pass", ["dkim-fail"], 20),
    ("Authentication-Results: mx.acmesecurity.com; spf=fail; dkim=fail; dmarc=fail",
     ["dmarc-fail", "spf-fail", "dkim-fail"], 80),
    ("Authentication-Results: mx.acmesecurity.com; none", ["no-auth"], 10),
    (None, ["no-auth"], 10),
    # a forged pass from someone else's server counts for nothing
    ("Authentication-Results: evil.example; spf=pass; dkim=pass; dmarc=pass", ["no-auth"], 10),
])
def test_authentication_signals(auth, expected_codes, score):
    report = analyse(message(auth=auth), SETTINGS)
    assert codes(report) == expected_codes
    assert report["score"] == score


def test_spoofing_a_protected_domain():
    report = analyse(message("From: CEO <ceo@acmesecurity.com>",
                             auth="Authentication-Results: mx.acmesecurity.com; spf=fail; dkim=none; dmarc=fail"),
                     SETTINGS)
    assert codes(report) == ["dmarc-fail", "protected-domain-spoofed", "spf-fail"]
    assert report["verdict"] == MALICIOUS


@pytest.mark.parametrize("sender,code,weight", [
    ("billing@paypal.net", "from-tld-swap", 50),
    ("billing@xn--pypal-4ve.com", "from-homoglyph", 50),
    ("billing@paypa1.com", "from-homoglyph", 50),
    ("billing@paypall.com", "from-typo", 50),
    ("billing@paypal-secure.com", "from-brand-in-name", 30),
    ("it@acmesecurlty.com", "from-typo", 50),
])
def test_from_lookalikes(sender, code, weight):
    report = analyse(message(f"From: {sender}"), SETTINGS)
    assert codes(report) == [code]
    assert report["score"] == weight
    assert report["lookalikes"]["from"]["domain"] == sender.split("@")[1]


def test_lookalike_plus_failed_dmarc_is_malicious():
    report = analyse(message("From: PayPal <service@xn--pypal-4ve.com>",
                             auth="Authentication-Results: mx.acmesecurity.com; spf=pass; dkim=none; dmarc=fail"),
                     SETTINGS)
    assert report["verdict"] == MALICIOUS
    assert report["reasons"][0]["message"] == \
        "From domain xn--pypal-4ve.com (pаypal.com) imitates paypal.com (homoglyph)"


def test_legitimate_subdomain_of_protected_is_fine():
    report = analyse(message("From: PayPal <service@mail.paypal.com>"), SETTINGS)
    assert report["verdict"] == CLEAN and report["lookalikes"] == {}


def test_reply_to_checks():
    report = analyse(message("From: a@partner.example", "Reply-To: a@gmail.com"), SETTINGS)
    assert codes(report) == ["reply-to-mismatch"] and report["score"] == 15
    # same registrable domain: fine
    report = analyse(message("From: a@partner.example", "Reply-To: support@help.partner.example"), SETTINGS)
    assert codes(report) == []
    report = analyse(message("From: a@partner.example", "Reply-To: refunds@paypal-refunds.com"), SETTINGS)
    assert codes(report) == ["reply-to-brand-in-name", "reply-to-mismatch"]
    assert report["lookalikes"]["reply_to"]["protected"] == "paypal.com"


@pytest.mark.parametrize("display,flagged", [
    ("PayPal Support", True),
    ("paypal", True),
    ("ACME Corp Billing", True),  # brand acme-corp, written as words
    ("AcmeCorp", True),
    ("Payments Team", False),
    ("Acmeville News", False),
    ("", False),
])
def test_display_name_impersonation(display, flagged):
    report = analyse(message(f'From: "{display}" <noreply@mailer.example>'), SETTINGS)
    assert ("display-name-brand" in codes(report)) is flagged


def test_display_name_brand_from_the_real_domain_is_fine():
    report = analyse(message('From: "PayPal" <service@paypal.com>'), SETTINGS)
    assert codes(report) == []


@pytest.mark.parametrize("headers,code", [
    (["From: undisclosed"], "bad-from"),
    (["From: someone@bad_domain.example"], "bad-from"),
    (["From: a@x.example, b@y.example"], "multiple-from"),
])
def test_from_problems(headers, code):
    assert code in codes(analyse(message(*headers), SETTINGS))


def test_missing_from():
    raw = PASSING + "\r\nSubject: no sender\r\n\r\n"
    assert codes(analyse(raw, SETTINGS)) == ["no-from"]


def test_bad_punycode_sender():
    report = analyse(message("From: x@xn--zz.com"), SETTINGS)
    assert codes(report) == ["from-bad-punycode"]


def test_received_timing_counts_at_most_twice():
    received = [f"Received: from h{i} by h{i + 1}; Mon, 03 Jun 2024 {10 - i:02d}:00:00 +0000" for i in range(4)]
    report = analyse(message(*reversed(received)), SETTINGS)
    assert len(report["received"]["issues"]) == 3
    assert codes(report) == ["received-timing", "received-timing"]
    assert report["score"] == 20
    assert len(report["received"]["hops"]) == 4


def test_date_header_skew():
    report = analyse(message("Received: from a by b; Mon, 03 Jun 2024 10:00:00 +0000",
                             "Date: Mon, 03 Jun 2024 11:00:00 +0000"), SETTINGS)
    assert report["received"]["issues"] == ["Date header is 3600s after the first hop"]
    report = analyse(message("Received: from a by b; Mon, 03 Jun 2024 10:00:00 +0000",
                             "Date: Mon, 03 Jun 2024 11:00:00 +0000"),
                     Settings(PROTECTED, ["mx.acmesecurity.com"], skew_tolerance=7200))
    assert report["received"]["issues"] == []


@pytest.mark.parametrize("raw,msg", [("", "empty"), ("   ", "empty"), (None, "empty"), ("\r\n\r\nbody", "no headers")])
def test_rejects_non_messages(raw, msg):
    with pytest.raises(ValueError, match=msg):
        analyse(raw, SETTINGS)
