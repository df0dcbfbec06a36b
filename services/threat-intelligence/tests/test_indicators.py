import datetime as dt

import pytest

from threat_intelligence.indicators import (
    Indicator, normalise, normalise_url, parse_confidence, parse_time, url_host,
)

UTC = dt.timezone.utc
MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


@pytest.mark.parametrize("raw,hint,expected", [
    ("198.51.100.7", None, ("ipv4", "198.51.100.7")),
    (" 198.51.100.7 ", "ip", ("ipv4", "198.51.100.7")),
    ("198[.]51[.]100[.]7", None, ("ipv4", "198.51.100.7")),
    ("198.51.100.7/32", None, ("ipv4", "198.51.100.7")),
    ("10.1.2.3/8", None, ("cidr", "10.0.0.0/8")),
    ("192.168.0.0/16", "ipv4-addr", ("cidr", "192.168.0.0/16")),
    ("2001:DB8:0::1", None, ("ipv6", "2001:db8::1")),
    ("2001:db8::/48", "cidr", ("cidr", "2001:db8::/48")),
    ("2001:db8::1/128", None, ("ipv6", "2001:db8::1")),
    ("Evil.Example.COM.", None, ("domain", "evil.example.com")),
    ("*.evil.example", "domain", ("domain", "evil.example")),
    ("evil[.]example", "hostname", ("domain", "evil.example")),
    ("münchen.de", None, ("domain", "xn--mnchen-3ya.de")),
    ("XN--MNCHEN-3YA.DE", None, ("domain", "xn--mnchen-3ya.de")),
    ("HTTP://Evil.Example:80/Path?q=1#frag", None, ("url", "http://evil.example/Path?q=1")),
    ("hxxps://evil[.]example", None, ("url", "https://evil.example/")),
    ("https://evil.example:8443/x", "url", ("url", "https://evil.example:8443/x")),
    ("https://user:pw@evil.example/x", None, ("url", "https://evil.example/x")),
    ("http://[2001:DB8::1]:80/a", None, ("url", "http://[2001:db8::1]/a")),
    ("http://198.51.100.7:8080/", None, ("url", "http://198.51.100.7:8080/")),
    (MD5.upper(), None, ("md5", MD5)),
    (SHA1, "sha-1", ("sha1", SHA1)),
    (SHA256, "hash", ("sha256", SHA256)),
    (SHA256, "file", ("sha256", SHA256)),
])
def test_normalise(raw, hint, expected):
    assert normalise(raw, hint) == expected


@pytest.mark.parametrize("raw,hint,msg", [
    ("", None, "empty"),
    ("  ", None, "empty"),
    ("0.0.0.0/0", None, "too broad"),
    ("10.0.0.0/7", "ip", "too broad"),
    ("2001::/31", None, "too broad"),
    ("300.1.1.1", "ip", "not an IP address"),
    ("10.0.0.0/33", "ip", "not an IP network"),
    ("1.2.3.999", None, "not a valid domain"),  # not an IP, and a numeric TLD is no domain
    ("localhost", None, "not a valid domain"),
    ("-bad.example", "domain", "not a valid domain"),
    ("bad_label.example", None, "not a valid domain"),
    ("a" * 64 + ".example", None, "not a valid domain"),
    ("javascript://alert", None, r"http\(s\) or ftp"),
    ("http://", "url", r"http\(s\) or ftp"),
    ("http://evil.example:99999/", "url", "not a valid URL"),
    (MD5, "sha256", "sha256 must be 64 hex digits"),
    ("z" * 32, "md5", "not an MD5"),
    ("abc", "hash", "not an MD5"),
    ("x.example", "registry-key", "unknown indicator type"),
])
def test_normalise_rejects(raw, hint, msg):
    with pytest.raises(ValueError, match=msg):
        normalise(raw, hint)


def test_hex_of_other_length_is_not_a_hash():
    # 33 hex characters: not a hash, and not a domain either
    with pytest.raises(ValueError):
        normalise(MD5 + "a")


def test_url_helpers():
    assert normalise_url("ftp://files.example:21") == "ftp://files.example/"
    assert url_host("http://[2001:db8::1]:8080/x") == "2001:db8::1"


@pytest.mark.parametrize("raw,expected", [
    ("2024-06-01T12:00:00Z", dt.datetime(2024, 6, 1, 12, tzinfo=UTC)),
    ("2024-06-01T14:00:00+02:00", dt.datetime(2024, 6, 1, 12, tzinfo=UTC)),
    ("2024-06-01T12:00:00.123z", dt.datetime(2024, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)),
    ("2024-06-01", dt.datetime(2024, 6, 1, tzinfo=UTC)),  # naive: taken as UTC
    (None, None),
    ("", None),
])
def test_parse_time(raw, expected):
    assert parse_time(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", 1717243200, "2024-13-01"])
def test_parse_time_rejects(raw):
    with pytest.raises(ValueError):
        parse_time(raw)


@pytest.mark.parametrize("raw,expected", [(None, 50), ("", 50), (0, 0), ("85", 85), (99.6, 100), (100, 100)])
def test_parse_confidence(raw, expected):
    assert parse_confidence(raw) == expected


@pytest.mark.parametrize("raw", [-1, 101, "high", True, [50]])
def test_parse_confidence_rejects(raw):
    with pytest.raises(ValueError):
        parse_confidence(raw)


def t(day):
    return dt.datetime(2024, 6, day, tzinfo=UTC)


def test_expiry_boundary():
    ind = Indicator("domain", "evil.example", valid_until=t(10))
    assert not ind.expired(t(9))
    assert ind.expired(t(10))  # valid *until*: gone at the instant itself
    assert not Indicator("domain", "x.example").expired(t(30))


@pytest.mark.parametrize("a_until,b_until,merged", [
    (t(5), t(9), t(9)),
    (t(9), t(5), t(9)),
    (None, t(5), None),  # never expiring wins
    (t(5), None, None),
])
def test_merge(a_until, b_until, merged):
    a = Indicator("domain", "evil.example", 40, a_until, frozenset({"feed-a"}), frozenset({"c2"}))
    b = Indicator("domain", "evil.example", 80, b_until, frozenset({"feed-b"}), frozenset({"apt"}))
    m = a.merge(b)
    assert (m.confidence, m.valid_until) == (80, merged)
    assert m.sources == {"feed-a", "feed-b"} and m.tags == {"c2", "apt"}
    assert b.merge(a).confidence == 80


def test_to_dict():
    ind = Indicator("ipv4", "1.2.3.4", 70, t(1), frozenset({"b", "a"}), frozenset({"x"}))
    assert ind.to_dict() == {"type": "ipv4", "value": "1.2.3.4", "confidence": 70,
                             "valid_until": "2024-06-01T00:00:00Z", "sources": ["a", "b"], "tags": ["x"]}
    assert Indicator("md5", MD5).to_dict()["valid_until"] is None
