import pytest

from nlp_assistant.entities import Entities, extract, mask, refang, scan

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


@pytest.mark.parametrize("text,expected", [
    ("hxxp://evil[.]com/a", "http://evil.com/a"),
    ("HXXPS://x(.)org", "https://x.org"),
    ("10[.]0[.]0[.]1", "10.0.0.1"),
    ("evil[dot]com", "evil.com"),
    ("a{.}b", "a.b"),
    ("fe80[:]:1", "fe80::1"),
    ("nothing to do", "nothing to do"),
])
def test_refang(text, expected):
    assert refang(text) == expected


@pytest.mark.parametrize("text,ips", [
    ("is 185.220.101.4 bad", ["185.220.101.4"]),
    ("ends a sentence 10.0.0.1.", ["10.0.0.1"]),
    ("defanged 10[.]0[.]0[.]1", ["10.0.0.1"]),
    ("src=8.8.8.8,dst=1.1.1.1", ["8.8.8.8", "1.1.1.1"]),
    ("8.8.8.8 then 1.1.1.1 then 8.8.8.8", ["8.8.8.8", "1.1.1.1"]),
    ("octet too big 256.1.1.1", []),
    ("leading zero 01.2.3.4", []),
    ("five parts 1.2.3.4.5", []),
    ("version 1.2.3", []),
    ("host1.2.3.4", []),
    ("v6 2001:db8::1 here", ["2001:db8::1"]),
    ("v6 2001:0DB8:0000::0001", ["2001:db8::1"]),
    ("loopback ::1", ["::1"]),
    ("at 10:30:00 today", []),
    ("mac 00:1a:2b:3c:4d:5e", []),
])
def test_ips(text, ips):
    assert extract(text).ips == ips


@pytest.mark.parametrize("text,cves", [
    ("tell me about cve-2021-44228", ["CVE-2021-44228"]),
    ("CVE-2024-3400 and CVE-2017-0144", ["CVE-2024-3400", "CVE-2017-0144"]),
    ("seven digits CVE-2023-1234567", ["CVE-2023-1234567"]),
    ("short year CVE-21-1234", []),
    ("too few digits CVE-2021-123", []),
    ("glued XCVE-2021-1234", []),
])
def test_cves(text, cves):
    assert extract(text).cves == cves


@pytest.mark.parametrize("text,hashes", [
    (f"md5 {MD5.upper()}", [{"value": MD5, "type": "md5"}]),
    (f"sha1 {SHA1}", [{"value": SHA1, "type": "sha1"}]),
    (f"sha256 {SHA256}.", [{"value": SHA256, "type": "sha256"}]),
    (f"{MD5} {SHA1} {MD5}", [{"value": MD5, "type": "md5"}, {"value": SHA1, "type": "sha1"}]),
    ("33 hex " + MD5 + "a", []),
    ("31 hex " + MD5[:-1], []),
    ("not hex " + "g" * 32, []),
])
def test_hashes(text, hashes):
    assert extract(text).hashes == hashes


def test_a_sha256_is_not_also_a_shorter_hash():
    e = extract(SHA256)
    assert [h["type"] for h in e.hashes] == ["sha256"]


@pytest.mark.parametrize("text,domains", [
    ("is evil.com phishing", ["evil.com"]),
    ("Sub.Evil.COM. is it bad", ["sub.evil.com"]),
    ("hxxps://login[.]evil-site[.]net/x?y=1", ["login.evil-site.net"]),
    ("mail from ceo@phish.example.org", ["phish.example.org"]),
    ("first.last@corp.example.com", ["corp.example.com"]),
    ("punycode xn--pypal-4ve.com", ["xn--pypal-4ve.com"]),
    ("idn tld example.xn--p1ai", ["example.xn--p1ai"]),
    ("open invoice.pdf and run setup.exe", []),
    ("e.g. this", []),
    ("version v1.2.3", []),
    ("-bad.com", []),
])
def test_domains(text, domains):
    assert extract(text).domains == domains


def test_mixed_and_entities_dict():
    e = extract(f"block 185.220.101.4, evil[.]com and {MD5} for CVE-2021-44228")
    assert e.to_dict() == {
        "ips": ["185.220.101.4"],
        "cves": ["CVE-2021-44228"],
        "hashes": [{"value": MD5, "type": "md5"}],
        "domains": ["evil.com"],
    }
    assert not e.empty()
    assert Entities().empty()


def test_scan_prefers_earliest_then_longest_and_never_overlaps():
    matches = scan("x 1.2.3.4 CVE-2020-1472 y")
    assert [(m.kind, m.value) for m in matches] == [("ip", "1.2.3.4"), ("cve", "CVE-2020-1472")]
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:]))


@pytest.mark.parametrize("text,kind,value", [
    # a hash-like or CVE-like label inside a domain is part of the domain, not a second entity
    (f"{MD5}.evil.com", "domain", f"{MD5}.evil.com"),
    ("cve-2021-44228.evil.com", "domain", "cve-2021-44228.evil.com"),
])
def test_overlapping_candidates_yield_one_entity(text, kind, value):
    assert [(m.kind, m.value) for m in scan(text)] == [(kind, value)]


def test_mask_replaces_entities_with_placeholders():
    assert mask("is 8[.]8[.]8[.]8 or evil.com bad").split() == ["is", "__ip__", "or", "__domain__", "bad"]
    assert mask(f"hash {SHA1}").split() == ["hash", "__hash__"]
    assert mask("CVE-2021-44228?").split() == ["__cve__", "?"]
