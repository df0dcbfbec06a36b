import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from decision_engine import server as srvmod
from decision_engine.model import DecisionModel, Thresholds, Weights
from platform_common.config import Env
from platform_common.logging import get_logger


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    srv = srvmod.make_server(DecisionModel(), get_logger("de-test", level="debug", stream=logs))
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


def test_decide_allow(server, logs):
    status, body, _ = call(server, "POST", "/v1/decide",
                           {"subject": "alice", "signals": {"anomaly_score": 0.1, "asset_criticality": "low"}})
    assert status == 200
    assert body["decision"] == "allow" and body["subject"] == "alice"
    assert body["risk"] == pytest.approx(0.0725)
    assert [f["name"] for f in body["factors"]][:2] == ["asset_criticality", "anomaly"]
    assert '"decision": "allow"' in logs.getvalue() and '"level": "info"' in logs.getvalue()


def test_decide_block_by_override(server, logs):
    status, body, _ = call(server, "POST", "/v1/decide", {"signals": {
        "anomaly_score": 0.05, "threat_intel": {"match": True, "confidence": 0.97, "category": "c2"}}})
    assert status == 200
    assert body["decision"] == "block" and body["model_decision"] == "allow" and body["subject"] is None
    assert body["overrides"][0]["rule"] == "known_malicious_infrastructure"
    assert "escalated from allow" in body["explanation"]
    assert '"level": "warn"' in logs.getvalue()
    assert '"overrides": ["known_malicious_infrastructure"]' in logs.getvalue()
    assert '"path": "/v1/decide"' in logs.getvalue()


def test_model_endpoint(server):
    status, body, _ = call(server, "GET", "/v1/model")
    assert status == 200
    assert body["weights"] == {"anomaly": 0.35, "threat_intel": 0.3, "asset_criticality": 0.15, "user_risk": 0.2}
    assert body["thresholds"] == {"step_up": 0.4, "block": 0.7}
    assert [o["rule"] for o in body["overrides"]][0] == "known_malicious_infrastructure"


@pytest.mark.parametrize("kwargs,msg", [
    ({"raw": b"{not json"}, "invalid JSON"),
    ({"raw": b"\xff\xfe"}, "invalid JSON"),
    ({"body": ["a"]}, "JSON object"),
    ({"body": {"signals": {}}}, "at least one signal"),
    ({"body": {}}, "signals must be a JSON object"),
    ({"body": {"signals": {"anomaly_score": 2}}}, "between 0 and 1"),
    ({"body": {"signals": {"anomaly_score": 0.2}, "user": "bob"}}, "unknown field 'user'"),
    ({"body": {"signals": {"anomaly_score": 0.2}, "subject": 7}}, "subject must be a string"),
    ({"body": {"signals": {"anomaly_score": 0.2}, "subject": "x" * 257}}, "subject must be a string"),
    ({"body": {"signals": {"anomaly_score": 0.2}}, "headers": {"Content-Type": "text/plain"}}, "content-type"),
])
def test_bad_requests(server, kwargs, msg):
    status, body, headers = call(server, "POST", "/v1/decide", **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/decide", {"signals": {"anomaly_score": 0.1}})
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/decide")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/decide", 405, "POST"),
    ("POST", "/healthz", 405, "GET"),
    ("POST", "/v1/model", 405, "GET"),
    ("GET", "/nope", 404, None),
    ("POST", "/nope", 404, None),
])
def test_routing_errors(server, method, path, status, allow):
    got, _, headers = call(server, method, path, body={} if method == "POST" else None)
    assert got == status
    assert headers.get("Allow") == allow


def test_load_model_from_env():
    model = srvmod.load_model(Env({"WEIGHT_ANOMALY": "0.6", "WEIGHT_THREAT_INTEL": "0.2", "WEIGHT_ASSET_CRITICALITY": "0",
                                   "WEIGHT_USER_RISK": "0.2", "STEP_UP_THRESHOLD": "0.3", "BLOCK_THRESHOLD": "0.9"}))
    assert model.weights == Weights(anomaly=0.6, threat_intel=0.2, asset_criticality=0.0, user_risk=0.2)
    assert model.thresholds == Thresholds(step_up=0.3, block=0.9)
    assert srvmod.load_model(Env({})).weights == Weights()


def test_main_serves_until_shutdown():
    started = {}
    ready = threading.Event()

    def on_ready(srv):
        started["srv"] = srv
        ready.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "code", srvmod.main({"PORT": "0", "HOST": "127.0.0.1", "BLOCK_THRESHOLD": "0.8"}, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    assert srv.model.thresholds.block == 0.8
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0


@pytest.mark.parametrize("env", [
    {"PORT": "http"},
    {"WEIGHT_ANOMALY": "lots"},
    {"WEIGHT_USER_RISK": "-1"},
    {"STEP_UP_THRESHOLD": "0.8", "BLOCK_THRESHOLD": "0.7"},
    {"WEIGHT_ANOMALY": "0", "WEIGHT_THREAT_INTEL": "0", "WEIGHT_ASSET_CRITICALITY": "0", "WEIGHT_USER_RISK": "0"},
])
def test_main_rejects_bad_config(env):
    assert srvmod.main(env) == 2
