import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from platform_common.logging import get_logger
from soar import server as srvmod
from soar.actions import Connectors

PLAYBOOK = {
    "name": "contain",
    "steps": [
        {"id": "enrich", "action": "enrich", "params": {"observable": "{{alert.ip}}"}},
        {"id": "block", "action": "block", "params": {"observable": "{{alert.ip}}"},
         "when": {"path": "steps.enrich.result.verdict", "op": "eq", "value": "malicious"}},
    ],
}


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    srv = srvmod.make_server(Connectors(["185.220.101.4"]), get_logger("soar-test", level="debug", stream=logs))
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


def test_run_playbook_against_alert(server, logs):
    status, body, _ = call(server, "POST", "/v1/run", {"playbook": PLAYBOOK, "alert": {"ip": "185.220.101.4"}})
    assert status == 200
    assert body["status"] == "succeeded"
    assert [(s["id"], s["status"]) for s in body["steps"]] == [("enrich", "succeeded"), ("block", "succeeded")]
    assert body["log"][0]["event"] == "run_started"
    assert call(server, "GET", "/v1/state")[1]["blocklist"] == {"185.220.101.4": "firewall"}
    assert '"msg": "playbook run"' in logs.getvalue()


def test_a_failed_run_is_still_200(server):
    status, body, _ = call(server, "POST", "/v1/run", {"playbook": PLAYBOOK | {"steps": [
        {"id": "block", "action": "block", "params": {"observable": "10.0.0.1"}}]}})
    assert status == 200 and body["status"] == "failed"
    assert "refusing to block internal address" in body["steps"][0]["error"]


@pytest.mark.parametrize("kwargs,msg", [
    ({"raw": b"{"}, "invalid JSON"),
    ({"body": []}, "body must be"),
    ({"body": {"playbook": PLAYBOOK, "extra": 1}}, "body must be"),
    ({"body": {"playbook": PLAYBOOK, "alert": []}}, "alert must be"),
    ({"body": {"alert": {}}}, "playbook must be a JSON object"),
    ({"body": {"playbook": {"name": "x", "steps": [{"id": "s", "action": "launch-missiles"}]}}},
     "no handler for action"),
    ({"body": {"playbook": PLAYBOOK}, "headers": {"Content-Type": "text/plain"}}, "content-type"),
])
def test_bad_requests(server, kwargs, msg):
    status, body, headers = call(server, "POST", "/v1/run", **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/run", {"playbook": PLAYBOOK})
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/run")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/run", 405, "POST"),
    ("POST", "/readyz", 405, "GET"),
    ("POST", "/v1/state", 405, "GET"),
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
    env = {"PORT": "0", "HOST": "127.0.0.1", "KNOWN_BAD": "evil.com, 185.220.101.4"}
    t = threading.Thread(target=lambda: result.setdefault("code", srvmod.main(env, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    assert srv.connectors.known_bad == {"evil.com", "185.220.101.4"}
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0


def test_main_rejects_bad_config():
    assert srvmod.main({"PORT": "http"}) == 2
