import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from identity_access_analytics import server as srvmod
from identity_access_analytics.snapshot import parse_rules
from identity_access_analytics.risk import DEFAULT_SOD_RULES
from platform_common.logging import get_logger

SNAPSHOT = {"as_of": "2024-06-01T00:00:00Z", "users": [
    {"id": "ann", "permissions": ["payments:create", "payments:approve"], "last_login": "2024-05-31T00:00:00Z"},
    {"id": "bob", "permissions": ["payments:create"], "last_login": "2023-05-31T00:00:00Z"},
]}


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    srv = srvmod.make_server(parse_rules(DEFAULT_SOD_RULES), get_logger("iaa-test", level="debug", stream=logs))
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


def test_analyse(server, logs):
    status, body, _ = call(server, "POST", "/v1/analyse", SNAPSHOT)
    assert status == 200
    assert [v["user"] for v in body["sod_violations"]] == ["ann"]
    assert [d["user"] for d in body["dormant_accounts"]] == ["bob"]
    assert '"msg": "snapshot analysed"' in logs.getvalue()
    assert '"sod_violations": 1' in logs.getvalue()


def test_sod_rules_listing(server):
    status, body, _ = call(server, "GET", "/v1/sod-rules")
    assert status == 200 and body["rules"][0] == {"id": "SOD-PAY-01", "name": "create and approve payments",
                                                  "conflicts": ["payments:create", "payments:approve"]}


@pytest.mark.parametrize("kwargs,msg", [
    ({"raw": b"{"}, "invalid JSON"),
    ({"body": {"users": []}}, "users must be"),
    ({"body": SNAPSHOT, "headers": {"Content-Type": "text/csv"}}, "content-type"),
])
def test_bad_requests(server, kwargs, msg):
    status, body, headers = call(server, "POST", "/v1/analyse", **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/analyse", SNAPSHOT)
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/analyse")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/analyse", 405, "POST"),
    ("POST", "/healthz", 405, "GET"),
    ("POST", "/v1/sod-rules", 405, "GET"),
    ("GET", "/nope", 404, None),
    ("POST", "/nope", 404, None),
])
def test_routing_errors(server, method, path, status, allow):
    got, _, headers = call(server, method, path, body={} if method == "POST" else None)
    assert got == status
    assert headers.get("Allow") == allow


def run_main(env):
    started = {}
    ready = threading.Event()

    def on_ready(srv):
        started["srv"] = srv
        ready.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("code", srvmod.main(env, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    rules = [r.id for r in srv.rules]
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0
    return rules


def test_main_with_default_and_file_rules(tmp_path):
    assert run_main({"PORT": "0", "HOST": "127.0.0.1"})[0] == "SOD-PAY-01"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"id": "ONLY", "conflicts": ["a", "b"]}]))
    assert run_main({"PORT": "0", "HOST": "127.0.0.1", "SOD_RULES_FILE": str(path)}) == ["ONLY"]


def test_main_rejects_bad_config(tmp_path):
    assert srvmod.main({"PORT": "http"}) == 2
    assert srvmod.main({"SOD_RULES_FILE": str(tmp_path / "missing.json")}) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "conflicts": ["only-one"]}]))
    assert srvmod.main({"SOD_RULES_FILE": str(bad)}) == 2
