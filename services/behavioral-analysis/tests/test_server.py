import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from behavioral_analysis import server as srvmod
from behavioral_analysis.anomaly import Scorer
from platform_common.logging import get_logger


def train_events(user="alice", n=20):
    return [{"user": user, "login_hour": 9 + (i % 3) * 0.25, "bytes_out": 1_000_000 + i * 1000,
             "failed_logins": i % 2, "distinct_hosts": 1, "country": "DE"} for i in range(n)]


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    srv = srvmod.make_server(Scorer(min_history=5), get_logger("ba-test", level="debug", stream=logs))
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


def test_observe_then_score(server, logs):
    status, body, _ = call(server, "POST", "/v1/observe", {"events": train_events()})
    assert (status, body) == (200, {"observed": 20})

    status, body, _ = call(server, "POST", "/v1/score",
                           {"user": "alice", "login_hour": 9.25, "bytes_out": 1_010_000, "country": "de"})
    assert status == 200
    assert body["level"] == "normal" and body["baseline"] == "user"
    assert set(body["zscores"]) == {"login_hour", "bytes_out", "failed_logins", "distinct_hosts"}

    status, body, _ = call(server, "POST", "/v1/score",
                           {"user": "alice", "login_hour": 3, "bytes_out": 8e9, "failed_logins": 7,
                            "distinct_hosts": 9, "country": "RU"})
    assert status == 200 and body["level"] == "anomalous"
    assert "first login from RU" in body["reasons"]
    assert '"msg": "anomalous login"' in logs.getvalue()
    assert '"verdict": "anomalous"' in logs.getvalue()
    assert '"path": "/v1/score"' in logs.getvalue()

    status, body, _ = call(server, "GET", "/v1/baseline/alice")
    assert status == 200 and body["baseline"]["events"] == 21  # the normal one was learned


def test_unknown_user_baseline(server):
    assert call(server, "GET", "/v1/baseline/nobody")[0] == 404


def test_observe_is_all_or_nothing(server):
    events = train_events(n=3) + [{"user": "alice", "login_hour": 25}]
    status, body, _ = call(server, "POST", "/v1/observe", {"events": events})
    assert status == 400 and body["error"].startswith("events[3]:")
    assert call(server, "GET", "/v1/baseline/alice")[0] == 404


@pytest.mark.parametrize("path,kwargs,msg", [
    ("/v1/score", {"raw": b"{not json"}, "invalid JSON"),
    ("/v1/score", {"raw": b"\xff\xfe"}, "invalid JSON"),
    ("/v1/score", {"body": {"user": "a"}}, "required"),
    ("/v1/score", {"body": {"user": "a", "login_hour": 1, "extra": 1}}, "unknown field"),
    ("/v1/score", {"body": ["a"]}, "JSON object"),
    ("/v1/score", {"body": {"user": "a", "login_hour": 1}, "headers": {"Content-Type": "text/plain"}}, "content-type"),
    ("/v1/observe", {"body": {"evts": []}}, "events"),
    ("/v1/observe", {"body": {"events": [{}] * (srvmod.MAX_EVENTS + 1)}}, "at most"),
])
def test_bad_requests(server, path, kwargs, msg):
    status, body, headers = call(server, "POST", path, **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limits(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/score", {"user": "alice", "login_hour": 1})
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/score")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/score", 405, "POST"),
    ("POST", "/healthz", 405, "GET"),
    ("POST", "/v1/baseline/alice", 405, "GET"),
    ("GET", "/nope", 404, None),
    ("POST", "/nope", 404, None),
])
def test_routing_errors(server, method, path, status, allow):
    got, _, headers = call(server, method, path, body={} if method == "POST" else None)
    assert got == status
    assert headers.get("Allow") == allow


def test_main_serves_until_shutdown():
    started = {}
    ready = threading.Event()

    def on_ready(srv):
        started["srv"] = srv
        ready.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "code", srvmod.main({"PORT": "0", "HOST": "127.0.0.1", "MIN_HISTORY": "3"}, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    assert srv.scorer.min_history == 3
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0


@pytest.mark.parametrize("env", [
    {"PORT": "http"},
    {"SUSPICIOUS_THRESHOLD": "6", "ANOMALOUS_THRESHOLD": "5"},
])
def test_main_rejects_bad_config(env):
    assert srvmod.main(env) == 2
