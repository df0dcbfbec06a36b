import io
import json
import threading
import urllib.error
import urllib.request

import pytest

from nlp_assistant import server as srvmod
from nlp_assistant.assistant import Assistant
from nlp_assistant.classifier import IntentClassifier, load_examples
from platform_common.logging import get_logger


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    assistant = Assistant(IntentClassifier(load_examples()))
    srv = srvmod.make_server(assistant, get_logger("nlp-test", level="debug", stream=logs))
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


def test_ask(server, logs):
    status, body, _ = call(server, "POST", "/v1/ask", {"question": "is 185.220.101.4 malicious?"})
    assert status == 200
    assert body["intent"] == "ip_reputation"
    assert body["entities"]["ips"] == ["185.220.101.4"]
    assert body["actions"][0]["service"] == "threat-intelligence"
    assert '"msg": "answered"' in logs.getvalue()
    assert '"path": "/v1/ask"' in logs.getvalue()


def test_intents(server):
    status, body, _ = call(server, "GET", "/v1/intents")
    assert status == 200
    assert body["intents"]["greeting"] >= 10 and body["vocabulary"] > 50
    assert body["min_confidence"] == 0.4


@pytest.mark.parametrize("kwargs,msg", [
    ({"raw": b"{"}, "invalid JSON"),
    ({"raw": b"\xff\xfe"}, "invalid JSON"),
    ({"body": ["question"]}, "question"),
    ({"body": {"question": 3}}, "question"),
    ({"body": {"question": "  "}}, "empty"),
    ({"body": {"question": "x" * (srvmod.MAX_QUESTION + 1)}}, "at most"),
    ({"body": {"question": "hi"}, "headers": {"Content-Type": "text/plain"}}, "content-type"),
])
def test_bad_requests(server, kwargs, msg):
    status, body, headers = call(server, "POST", "/v1/ask", **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/ask", {"question": "hello there"})
    assert status == 400 and "at most" in body["error"]


def test_missing_content_length(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.putrequest("POST", "/v1/ask")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"Content-Length" in resp.read()
    conn.close()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/ask", 405, "POST"),
    ("POST", "/healthz", 405, "GET"),
    ("POST", "/v1/intents", 405, "GET"),
    ("GET", "/nope", 404, None),
    ("POST", "/nope", 404, None),
])
def test_routing_errors(server, method, path, status, allow):
    got, _, headers = call(server, method, path, body={} if method == "POST" else None)
    assert got == status
    assert headers.get("Allow") == allow


def test_main_serves_until_shutdown(tmp_path):
    training = tmp_path / "set.json"
    training.write_text(json.dumps({"lookup": ["check ip"], "other": ["hello"]}))
    started = {}
    ready = threading.Event()

    def on_ready(srv):
        started["srv"] = srv
        ready.set()

    result = {}
    env = {"PORT": "0", "HOST": "127.0.0.1", "MIN_CONFIDENCE": "0.7", "TRAINING_FILE": str(training)}
    t = threading.Thread(target=lambda: result.setdefault("code", srvmod.main(env, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    assert srv.assistant.classifier.min_confidence == 0.7
    assert srv.assistant.classifier.examples == {"lookup": 1, "other": 1}
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0


@pytest.mark.parametrize("env", [
    {"PORT": "http"},
    {"MIN_CONFIDENCE": "2"},
    {"NB_ALPHA": "0"},
    {"TRAINING_FILE": "/nonexistent/set.json"},
])
def test_main_rejects_bad_config(env):
    assert srvmod.main(env) == 2
