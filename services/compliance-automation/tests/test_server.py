import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from compliance_automation import server as srvmod
from compliance_automation.report import bundled_controls
from platform_common.logging import get_logger

CONTROLS = [{"id": "ROOT", "frameworks": {"CIS": ["5.2.10"]},
             "check": {"path": "ssh.permit_root_login", "equals": "no"}},
            {"id": "MFA", "frameworks": {"PCI-DSS": ["8.4.1"]},
             "check": {"path": "users[*].mfa", "equals": True}}]


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    srv = srvmod.make_server(bundled_controls(), get_logger("ca-test", level="debug", stream=logs))
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


def test_evaluate_with_bundled_controls(server, logs):
    status, body, _ = call(server, "POST", "/v1/evaluate", {"config": {"ssh": {"permit_root_login": "yes"}}})
    assert status == 200
    assert body["summary"]["controls"] == len(server.controls)
    statuses = {r["id"]: r["status"] for r in body["results"]}
    assert statuses["LNX-SSH-01"] == "not_applicable"  # no sshd service in this config
    assert statuses["LNX-PWD-01"] == "fail"
    assert set(body["frameworks"]) == {"CIS", "NIST-800-53", "PCI-DSS"}
    assert '"msg": "evaluated"' in logs.getvalue()


def test_evaluate_with_inline_controls_and_filter(server):
    config = {"ssh": {"permit_root_login": "no"}, "users": [{"mfa": True}, {"mfa": False}]}
    status, body, _ = call(server, "POST", "/v1/evaluate", {"config": config, "controls": CONTROLS})
    assert status == 200
    assert body["frameworks"]["CIS"]["percent_compliant"] == 100.0
    assert body["frameworks"]["PCI-DSS"]["percent_compliant"] == 0.0
    assert body["summary"]["percent_compliant"] == 50.0
    status, body, _ = call(server, "POST", "/v1/evaluate",
                           {"config": config, "controls": CONTROLS, "frameworks": ["PCI-DSS"]})
    assert [r["id"] for r in body["results"]] == ["MFA"]


def test_controls_listing(server):
    status, body, _ = call(server, "GET", "/v1/controls")
    assert status == 200
    first = body["controls"][0]
    assert set(first) == {"id", "title", "severity", "frameworks"}


@pytest.mark.parametrize("kwargs,msg", [
    ({"raw": b"[1,"}, "invalid JSON"),
    ({"body": {"config": {}, "extra": 1}}, "body must be"),
    ({"body": {"config": []}}, "config must be"),
    ({"body": {}}, "config must be"),
    ({"body": {"config": {}, "controls": [{"id": "x"}]}}, "check is required"),
    ({"body": {"config": {}, "frameworks": "CIS"}}, "frameworks"),
    ({"body": {"config": {}, "frameworks": [1]}}, "frameworks"),
    ({"body": {"config": {}}, "headers": {"Content-Type": "text/yaml"}}, "content-type"),
])
def test_bad_requests(server, kwargs, msg):
    status, body, headers = call(server, "POST", "/v1/evaluate", **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/evaluate", {"config": {"a": 1}})
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/evaluate")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/evaluate", 405, "POST"),
    ("POST", "/healthz", 405, "GET"),
    ("POST", "/v1/controls", 405, "GET"),
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
    controls = [c.id for c in srv.controls]
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0
    return controls


def test_main_with_bundled_and_file_controls(tmp_path):
    assert len(run_main({"PORT": "0", "HOST": "127.0.0.1"})) == len(bundled_controls())
    path = tmp_path / "controls.json"
    path.write_text(json.dumps(CONTROLS))
    assert run_main({"PORT": "0", "HOST": "127.0.0.1", "CONTROLS_FILE": str(path)}) == ["ROOT", "MFA"]


def test_main_rejects_bad_config(tmp_path):
    assert srvmod.main({"PORT": "http"}) == 2
    assert srvmod.main({"CONTROLS_FILE": str(tmp_path / "missing.json")}) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "check": {"path": "a"}}]))
    assert srvmod.main({"CONTROLS_FILE": str(bad)}) == 2
    bad.write_text("{not json")
    assert srvmod.main({"CONTROLS_FILE": str(bad)}) == 2
