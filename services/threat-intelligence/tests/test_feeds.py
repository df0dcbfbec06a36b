import datetime as dt

import pytest

from threat_intelligence.feeds import parse_csv, parse_pattern, parse_stix

UTC = dt.timezone.utc
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
MD5 = "44d88612fea8a8f36de82e1278abb02f"


@pytest.mark.parametrize("pattern,expected", [
    ("[ipv4-addr:value = '198.51.100.7']", [("ipv4", "198.51.100.7")]),
    ("[ipv4-addr:value = '203.0.113.0/24']", [("cidr", "203.0.113.0/24")]),
    ("[ipv6-addr:value='2001:db8::1']", [("ipv6", "2001:db8::1")]),
    ("[domain-name:value = 'Evil.Example']", [("domain", "evil.example")]),
    ("[url:value = 'http://evil.example/a']", [("url", "http://evil.example/a")]),
    (f"[file:hashes.'SHA-256' = '{SHA256.upper()}']", [("sha256", SHA256)]),
    (f"[file:hashes.MD5 = '{MD5}']", [("md5", MD5)]),
    (f"[domain-name:value = 'a.example'] OR [file:hashes.md5 = '{MD5}'] or [ipv4-addr:value = '1.2.3.4']",
     [("domain", "a.example"), ("md5", MD5), ("ipv4", "1.2.3.4")]),
    (r"[url:value = 'http://evil.example/it\'s']", [("url", "http://evil.example/it's")]),
])
def test_parse_pattern(pattern, expected):
    assert parse_pattern(pattern) == expected


@pytest.mark.parametrize("pattern,msg", [
    ("", "empty"),
    (None, "empty"),
    ("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']", "unsupported pattern"),
    ("[ipv4-addr:value != '1.2.3.4']", "unsupported pattern"),
    ("ipv4-addr:value = '1.2.3.4'", "unsupported pattern"),
    ("[email-addr:value = 'a@b.example']", "unsupported object path"),
    ("[file:hashes.'SSDEEP' = 'abc']", "unsupported hash"),
    ("[ipv4-addr:value = 'evil.example']", "not an IP"),
    (f"[file:hashes.'SHA-256' = '{MD5}']", "sha256 must be"),
])
def test_parse_pattern_rejects(pattern, msg):
    with pytest.raises(ValueError, match=msg):
        parse_pattern(pattern)


def bundle(*objects):
    return {"type": "bundle", "id": "bundle--1", "objects": list(objects)}


def test_parse_stix_bundle():
    result = parse_stix(bundle(
        {"type": "identity", "id": "identity--x", "name": "ACME CERT"},
        {"type": "indicator", "id": "indicator--1", "pattern": "[ipv4-addr:value = '198.51.100.7']",
         "pattern_type": "stix", "confidence": 85, "valid_until": "2024-07-01T00:00:00Z",
         "labels": ["C2", " botnet "]},
        {"type": "indicator", "id": "indicator--2",
         "pattern": "[domain-name:value = 'evil.example'] OR [url:value = 'https://evil.example/login']"},
        {"type": "indicator", "id": "indicator--3", "pattern": "[domain-name:value = 'old.example']",
         "revoked": True},
    ), "acme")
    assert result.errors == []
    first = result.indicators[0]
    assert (first.type, first.value, first.confidence) == ("ipv4", "198.51.100.7", 85)
    assert first.valid_until == dt.datetime(2024, 7, 1, tzinfo=UTC)
    assert first.tags == {"c2", "botnet"} and first.sources == {"acme"}
    assert [(i.type, i.value, i.confidence, i.valid_until) for i in result.indicators[1:]] == [
        ("domain", "evil.example", 50, None), ("url", "https://evil.example/login", 50, None)]
    assert result.revoked == [("domain", "old.example")]


def test_parse_stix_collects_errors_and_keeps_going():
    result = parse_stix(bundle(
        {"type": "indicator", "id": "indicator--bad", "pattern": "[process:name = 'evil.exe']"},
        {"type": "indicator", "pattern": "[ipv4-addr:value = '1.2.3.4']", "confidence": 150},
        {"type": "indicator", "pattern": "[ipv4-addr:value = '1.2.3.4']", "valid_until": "soon"},
        {"type": "indicator", "pattern": "[ipv4-addr:value = '1.2.3.4']", "labels": "c2"},
        {"type": "indicator", "pattern": "alert tcp any", "pattern_type": "snort"},
        "not an object",
        {"type": "indicator", "pattern": "[ipv4-addr:value = '5.6.7.8']"},
    ), "feed")
    assert [i.value for i in result.indicators] == ["5.6.7.8"]
    assert len(result.errors) == 5
    assert result.errors[0].startswith("objects[0] (indicator--bad): unsupported object path")
    assert "outside 0-100" in result.errors[1]
    assert "ISO 8601" in result.errors[2]
    assert "labels" in result.errors[3]
    assert "snort" in result.errors[4]


@pytest.mark.parametrize("doc", [[], {"type": "report", "objects": []}, {"type": "bundle", "objects": {}}])
def test_parse_stix_not_a_bundle(doc):
    result = parse_stix(doc, "x")
    assert result.indicators == [] and "not a bundle" in result.errors[0]


CSV = f"""# ACME daily feed
indicator,type,confidence,expires,tags
198.51.100.7,ip,90,2024-07-01,c2;botnet
evil[.]example,domain,,,phishing
{SHA256},,70,,

hxxp://evil.example/payload,url,60,2024-06-15T00:00:00Z,
300.1.1.1,ip,80,,
bad.example,domain,high,,
{MD5},sha256,80,,
"""


def test_parse_csv():
    result = parse_csv(CSV, "acme-csv")
    got = [(i.type, i.value, i.confidence, i.valid_until, sorted(i.tags)) for i in result.indicators]
    assert got == [
        ("ipv4", "198.51.100.7", 90, dt.datetime(2024, 7, 1, tzinfo=UTC), ["botnet", "c2"]),
        ("domain", "evil.example", 50, None, ["phishing"]),
        ("sha256", SHA256, 70, None, []),
        ("url", "http://evil.example/payload", 60, dt.datetime(2024, 6, 15, tzinfo=UTC), []),
    ]
    assert all(i.sources == {"acme-csv"} for i in result.indicators)
    # line numbers count comments and blank lines, as an editor would
    assert [e.split(":")[0] for e in result.errors] == ["line 8", "line 9", "line 10"]


def test_parse_csv_value_column_and_short_rows():
    result = parse_csv("Value\n1.2.3.4\nevil.example,extra\n", "f")
    assert [(i.type, i.value, i.confidence) for i in result.indicators] == [
        ("ipv4", "1.2.3.4", 50), ("domain", "evil.example", 50)]
    result = parse_csv("indicator,confidence\n1.2.3.4\n", "f")
    assert result.indicators[0].confidence == 50 and result.errors == []


@pytest.mark.parametrize("text,msg", [
    ("", "empty feed"),
    ("# only a comment\n\n", "empty feed"),
    ("ip,score\n1.2.3.4,5\n", "'indicator' or 'value' column"),
])
def test_parse_csv_unusable(text, msg):
    result = parse_csv(text, "f")
    assert result.indicators == [] and msg in result.errors[0]


def test_parse_csv_empty_value_is_an_error():
    result = parse_csv("indicator,type\n,ip\n", "f")
    assert result.errors == ["line 2: empty indicator"]
