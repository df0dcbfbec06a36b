import datetime as dt
import threading

import pytest

from threat_intelligence.indicators import Indicator
from threat_intelligence.matcher import MAX_EVENT_VALUES, IndicatorStore

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 10, tzinfo=UTC)
MD5 = "44d88612fea8a8f36de82e1278abb02f"


def ind(kind, value, confidence=80, until=None, source="feed", tags=()):
    return Indicator(kind, value, confidence, until, frozenset({source}), frozenset(tags))


@pytest.fixture
def store():
    s = IndicatorStore()
    s.load([
        ind("ipv4", "198.51.100.7"),
        ind("cidr", "203.0.113.0/24", 60),
        ind("cidr", "203.0.0.0/16", 40),
        ind("cidr", "10.0.0.0/8", 30),
        ind("ipv6", "2001:db8::1"),
        ind("cidr", "2001:db8:bad::/48"),
        ind("domain", "evil.example"),
        ind("domain", "cdn.good.example"),
        ind("url", "http://good.example/malware.bin"),
        ind("md5", MD5),
        ind("domain", "expired.example", until=NOW),
        ind("domain", "live.example", until=NOW + dt.timedelta(seconds=1)),
    ])
    return s


def hits(matches):
    return [(m.indicator.type, m.indicator.value, m.how) for m in matches]


@pytest.mark.parametrize("observable,expected", [
    ("198.51.100.7", [("ipv4", "198.51.100.7", "exact")]),
    ("198.51.100.8", []),
    # most specific network first
    ("203.0.113.9", [("cidr", "203.0.113.0/24", "cidr"), ("cidr", "203.0.0.0/16", "cidr")]),
    ("203.0.114.9", [("cidr", "203.0.0.0/16", "cidr")]),
    ("203.1.0.1", []),
    ("10.255.255.255", [("cidr", "10.0.0.0/8", "cidr")]),
    ("11.0.0.0", []),
    ("2001:db8::1", [("ipv6", "2001:db8::1", "exact")]),
    ("2001:db8:bad:1::5", [("cidr", "2001:db8:bad::/48", "cidr")]),
    ("2001:db8:bae::1", []),
    ("evil.example", [("domain", "evil.example", "exact")]),
    ("EVIL.example.", [("domain", "evil.example", "exact")]),
    ("login.evil.example", [("domain", "evil.example", "subdomain")]),
    ("a.b.c.evil.example", [("domain", "evil.example", "subdomain")]),
    ("notevil.example", []),  # a suffix of the string is not a parent domain
    ("evil.example.net", []),
    ("good.example", []),  # the parent of a listed domain is not listed
    ("x.cdn.good.example", [("domain", "cdn.good.example", "subdomain")]),
    ("https://login.evil.example/x", [("domain", "evil.example", "url-host")]),
    ("http://evil.example", [("domain", "evil.example", "url-host")]),
    ("http://good.example/malware.bin", [("url", "http://good.example/malware.bin", "exact")]),
    ("HTTP://GOOD.example:80/malware.bin#x", [("url", "http://good.example/malware.bin", "exact")]),
    ("http://good.example/other", []),
    ("http://203.0.113.5:8080/", [("cidr", "203.0.113.0/24", "url-host"), ("cidr", "203.0.0.0/16", "url-host")]),
    ("http://198.51.100.7/", [("ipv4", "198.51.100.7", "url-host")]),
    ("http://[2001:db8::1]/", [("ipv6", "2001:db8::1", "url-host")]),
    (MD5.upper(), [("md5", MD5, "exact")]),
    ("expired.example", []),  # valid_until == now: expired
    ("live.example", [("domain", "live.example", "exact")]),
])
def test_check(store, observable, expected):
    assert hits(store.check(observable, NOW)) == expected


def test_bare_tld_is_never_matched():
    # feeds cannot yield a one-label domain, but a caller building indicators by hand could
    s = IndicatorStore()
    s.load([ind("domain", "com"), ind("domain", "co.uk")])
    assert s.check("evil.com", NOW) == []
    assert hits(s.check("evil.co.uk", NOW)) == [("domain", "co.uk", "subdomain")]
    with pytest.raises(ValueError):  # "uk" alone is not even an observable
        s.check("uk", NOW)


def test_min_confidence(store):
    assert hits(store.check("203.0.113.9", NOW, min_confidence=60)) == [("cidr", "203.0.113.0/24", "cidr")]
    assert store.check("203.0.113.9", NOW, min_confidence=61) == []


def test_check_rejects_non_observables(store):
    with pytest.raises(ValueError):
        store.check("not an indicator", NOW)


def test_load_deduplicates_and_merges():
    s = IndicatorStore()
    stats = s.load([ind("domain", "evil.example", 40, source="a"),
                    ind("domain", "evil.example", 90, source="b", tags=["c2"]),
                    ind("ipv4", "1.2.3.4")])
    assert stats.to_dict() == {"added": 2, "updated": 1, "revoked": 0, "expired": 0}
    assert len(s) == 2
    m = s.check("evil.example", NOW)[0]
    assert m.indicator.confidence == 90 and m.indicator.sources == {"a", "b"} and m.indicator.tags == {"c2"}
    stats = s.load([ind("domain", "evil.example", 10, source="c")])
    assert stats.added == 0 and stats.updated == 1
    assert s.check("evil.example", NOW)[0].indicator.confidence == 90


def test_revocation_removes_indicators_and_networks(store):
    stats = store.load([], revoked=[("domain", "evil.example"), ("cidr", "203.0.113.0/24"),
                                    ("domain", "never-loaded.example")])
    assert stats.revoked == 2
    assert store.check("login.evil.example", NOW) == []
    assert hits(store.check("203.0.113.9", NOW)) == [("cidr", "203.0.0.0/16", "cidr")]
    store.load([], revoked=[("cidr", "203.0.0.0/16")])
    assert store.check("203.0.113.9", NOW) == []


def test_purge_expired(store):
    before = len(store)
    assert store.purge_expired(NOW) == 1
    assert len(store) == before - 1
    assert store.purge_expired(NOW + dt.timedelta(days=1)) == 1  # live.example now too
    assert store.counts()["domain"] == 2


def test_counts(store):
    assert store.counts() == {"cidr": 4, "domain": 4, "ipv4": 1, "ipv6": 1, "md5": 1, "url": 1}


def test_check_event_walks_nested_values(store):
    event = {
        "src_ip": "10.1.2.3",
        "dst": {"ip": "198.51.100.7", "host": "api.evil.example"},
        "files": [{"md5": MD5}, {"name": "report.docx"}],
        "message": "user clicked a link",
        "count": 3,
        "dup": "198.51.100.7",
    }
    assert hits(store.check_event(event, NOW)) == [
        ("cidr", "10.0.0.0/8", "cidr"),
        ("ipv4", "198.51.100.7", "exact"),
        ("domain", "evil.example", "subdomain"),
        ("md5", MD5, "exact"),
    ]
    assert hits(store.check_event(event, NOW, min_confidence=50)) == [
        ("ipv4", "198.51.100.7", "exact"), ("domain", "evil.example", "subdomain"), ("md5", MD5, "exact")]


def test_check_event_bounds_the_work(store):
    with pytest.raises(ValueError, match="distinct values"):
        store.check_event([f"v{i}" for i in range(MAX_EVENT_VALUES + 1)], NOW)


def test_match_to_dict(store):
    d = store.check("login.evil.example", NOW)[0].to_dict()
    assert d == {"observable": "login.evil.example", "match": "subdomain",
                 "indicator": {"type": "domain", "value": "evil.example", "confidence": 80,
                               "valid_until": None, "sources": ["feed"], "tags": []}}


def test_concurrent_loads_lose_nothing():
    s = IndicatorStore()

    def load(n):
        s.load([ind("ipv4", f"198.51.{n}.{i}") for i in range(100)])

    threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(s) == 800


def test_load_skips_indicators_already_expired():
    s = IndicatorStore()
    stats = s.load([ind("domain", "old.example", until=NOW),
                    ind("domain", "new.example", until=NOW + dt.timedelta(days=1)),
                    ind("domain", "forever.example")], now=NOW)
    assert (stats.added, stats.expired) == (2, 1)
    assert s.counts() == {"domain": 2}
