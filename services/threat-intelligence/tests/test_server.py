import datetime as dt
import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from platform_common.logging import get_logger
from threat_intelligence import server as srvmod
from threat_intelligence.matcher import IndicatorStore

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 10, tzinfo=UTC)

BUNDLE = {"type": "bundle", "objects": [
    {"type": "indicator", "pattern": "[domain-name:value = 'evil.example']", "confidence": 90},
    {"type": "indicator", "pattern": "[ipv4-addr:value = '203.0.113.0/24']", "confidence": 40,
     "valid_until": "2024-07-01T00:00:00Z"},
    {"type": "indicator", "pattern": "[ipv4-addr:value = '198.51.100.1']", "valid_until": "2024-06-01T00:00:00Z"},
    {"type": "indicator", "pattern": "[mutex:name = 'x']"},
]}


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    clock = {"now": NOW}
    srv = srvmod.make_server(IndicatorStore(), get_logger("ti-test", level="debug", stream=logs),
                             now=lambda: clock["now"])
    srv.clock = clock
    srv.readiness.set(True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def call(srv, method, path, body=None, raw=None, headers=None):
    url = f"http://127.0.0.1:{srv.server_address[1]}{path}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


def test_health(server):
    assert call(server, "GET", "/healthz")[:2] == (200, {"status": "ok"})
    assert call(server, "GET", "/readyz")[0] == 200
    server.readiness.set(False, "draining")
    assert call(server, "GET", "/readyz")[0] == 503


def test_load_feeds_and_check(server, logs):
    status, body, _ = call(server, "POST", "/v1/feeds", {"format": "stix", "source": " acme ", "content": BUNDLE})
    assert status == 200
    assert body["source"] == "acme"
    assert (body["parsed"], body["added"], body["expired"], body["total"]) == (3, 2, 1, 2)
    assert body["error_count"] == 1 and "mutex" in body["errors"][0]

    csv_feed = "indicator,confidence\nEVIL.example,70\n203.0.113.77/32,95\n"
    status, body, _ = call(server, "POST", "/v1/feeds", {"format": "csv", "source": "osint", "content": csv_feed})
    assert (body["added"], body["updated"], body["total"]) == (1, 1, 3)

    status, body, _ = call(server, "POST", "/v1/check", {
        "observables": ["login.evil.example", "203.0.113.77", "198.51.100.1", "not an ioc"],
        "event": {"dst_ip": "203.0.113.5", "user": "bob"},
    })
    assert status == 200
    got = [(m["observable"], m["match"], m["indicator"]["value"]) for m in body["matches"]]
    assert got == [
        ("login.evil.example", "subdomain", "evil.example"),
        ("203.0.113.77", "exact", "203.0.113.77"),
        ("203.0.113.77", "cidr", "203.0.113.0/24"),
        ("203.0.113.5", "cidr", "203.0.113.0/24"),
    ]  # 198.51.100.1 expired before NOW
    assert body["invalid"] == ["not an ioc"]
    merged = body["matches"][0]["indicator"]
    assert merged["sources"] == ["acme", "osint"] and merged["confidence"] == 90
    assert '"msg": "indicator match"' in logs.getvalue()

    status, body, _ = call(server, "POST", "/v1/check", {"observables": ["203.0.113.5"], "min_confidence": 50})
    assert body["matches"] == []

    assert call(server, "GET", "/v1/stats")[1] == {"total": 3, "by_type": {"cidr": 1, "domain": 1, "ipv4": 1}}


def test_loading_purges_expired(server):
    call(server, "POST", "/v1/feeds", {"format": "stix", "source": "a", "content": json.dumps(BUNDLE)})
    server.clock["now"] = NOW + dt.timedelta(days=30)
    status, body, _ = call(server, "POST", "/v1/feeds", {"format": "csv", "source": "b", "content": "value\n"})
    assert status == 200 and body["purged"] == 1 and body["total"] == 1


def test_server_floor_applies_by_default(logs):
    srv = srvmod.make_server(IndicatorStore(), get_logger("ti-test2", stream=logs), min_confidence=60, now=lambda: NOW)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        call(srv, "POST", "/v1/feeds", {"format": "stix", "source": "a", "content": BUNDLE})
        body = call(srv, "POST", "/v1/check", {"observables": ["evil.example", "203.0.113.1"]})[1]
        assert [m["indicator"]["value"] for m in body["matches"]] == ["evil.example"]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("path,kwargs,msg", [
    ("/v1/feeds", {"raw": b"{"}, "invalid JSON"),
    ("/v1/feeds", {"body": {"format": "stix", "source": "a", "content": {}, "x": 1}}, "body must be"),
    ("/v1/feeds", {"body": {"format": "stix", "source": " ", "content": {}}}, "source"),
    ("/v1/feeds", {"body": {"format": "xml", "source": "a", "content": ""}}, "format"),
    ("/v1/feeds", {"body": {"format": "csv", "source": "a", "content": {}}}, "csv content"),
    ("/v1/feeds", {"body": {"format": "stix", "source": "a", "content": "{"}}, "not valid JSON"),
    ("/v1/check", {"body": {}}, "observables"),
    ("/v1/check", {"body": {"observables": [], "extra": 1}}, "observables"),
    ("/v1/check", {"body": {"observables": "1.2.3.4"}}, "list of strings"),
    ("/v1/check", {"body": {"observables": [1]}}, "list of strings"),
    ("/v1/check", {"body": {"observables": ["x"] * (srvmod.MAX_OBSERVABLES + 1)}}, "at most"),
    ("/v1/check", {"body": {"observables": [], "min_confidence": 101}}, "min_confidence"),
    ("/v1/check", {"body": {"observables": [], "min_confidence": True}}, "min_confidence"),
    ("/v1/check", {"body": {"event": [str(i) for i in range(1001)]}}, "distinct values"),
    ("/v1/check", {"body": {"observables": []}, "headers": {"Content-Type": "text/csv"}}, "content-type"),
])
def test_bad_requests(server, path, kwargs, msg):
    status, body, headers = call(server, "POST", path, **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/check", {"observables": ["1.2.3.4"]})
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/check")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/feeds", 405, "POST"),
    ("GET", "/v1/check", 405, "POST"),
    ("POST", "/healthz", 405, "GET"),
    ("POST", "/v1/stats", 405, "GET"),
    ("GET", "/nope", 404, None),
    ("POST", "/nope", 404, None),
])
def test_routing_errors(server, method, path, status, allow):
    got, _, headers = call(server, method, path, body={} if method == "POST" else None)
    assert got == status
    assert headers.get("Allow") == allow


def test_utcnow_is_aware():
    assert srvmod.utcnow().tzinfo is not None


def test_main_serves_until_shutdown():
    started = {}
    ready = threading.Event()

    def on_ready(srv):
        started["srv"] = srv
        ready.set()

    result = {}
    env = {"PORT": "0", "HOST": "127.0.0.1", "MIN_CONFIDENCE": "75"}
    t = threading.Thread(target=lambda: result.setdefault("code", srvmod.main(env, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    assert srv.min_confidence == 75
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0


@pytest.mark.parametrize("env", [{"PORT": "http"}, {"MIN_CONFIDENCE": "150"}, {"MIN_CONFIDENCE": "high"}])
def test_main_rejects_bad_config(env):
    assert srvmod.main(env) == 2
