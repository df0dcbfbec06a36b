import io
import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from email_security import server as srvmod
from email_security.analyzer import Settings
from platform_common.logging import get_logger

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(os.path.dirname(HERE), "data", "protected_domains.txt")

PHISH = ("Authentication-Results: mx.acmesecurity.com; spf=fail; dkim=none; dmarc=fail\r\n"
         "From: PayPal <service@paypa1.com>\r\nReply-To: x@gmail.com\r\nSubject: urgent\r\n\r\n")


@pytest.fixture
def logs():
    return io.StringIO()


@pytest.fixture
def server(logs):
    settings = Settings(["paypal.com", "acmesecurity.com"], ["mx.acmesecurity.com"])
    srv = srvmod.make_server(settings, get_logger("es-test", level="debug", stream=logs))
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


def test_analyse_phish(server, logs):
    status, body, _ = call(server, "POST", "/v1/analyse", {"message": PHISH})
    assert status == 200
    assert body["verdict"] == "malicious"
    assert body["lookalikes"]["from"]["protected"] == "paypal.com"
    assert '"msg": "suspicious message"' in logs.getvalue()
    assert '"sender": "service@paypa1.com"' in logs.getvalue()


def test_analyse_clean_is_not_logged_as_suspicious(server, logs):
    clean = ("Authentication-Results: mx.acmesecurity.com; spf=pass; dkim=pass; dmarc=pass\r\n"
             "From: a@partner.example\r\n\r\n")
    status, body, _ = call(server, "POST", "/v1/analyse", {"message": clean})
    assert (status, body["verdict"]) == (200, "clean")
    assert "suspicious message" not in logs.getvalue()


def test_protected_domains(server):
    assert call(server, "GET", "/v1/protected-domains")[1] == {"domains": ["paypal.com", "acmesecurity.com"]}


@pytest.mark.parametrize("kwargs,msg", [
    ({"raw": b"{"}, "invalid JSON"),
    ({"body": {"msg": "x"}}, "body must be"),
    ({"body": {"message": 3}}, "body must be"),
    ({"body": {"message": "x", "extra": 1}}, "body must be"),
    ({"body": {"message": "  "}}, "empty"),
    ({"body": {"message": PHISH}, "headers": {"Content-Type": "message/rfc822"}}, "content-type"),
])
def test_bad_requests(server, kwargs, msg):
    status, body, headers = call(server, "POST", "/v1/analyse", **kwargs)
    assert status == 400 and msg in body["error"]
    assert headers["Connection"] == "close"


def test_body_limit(server, monkeypatch):
    monkeypatch.setattr(srvmod, "MAX_BODY", 10)
    status, body, _ = call(server, "POST", "/v1/analyse", {"message": PHISH})
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
    ("POST", "/readyz", 405, "GET"),
    ("POST", "/v1/protected-domains", 405, "GET"),
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
    env = {"PORT": "0", "HOST": "127.0.0.1", "PROTECTED_DOMAINS_FILE": BUNDLED,
           "TRUSTED_AUTHSERV_IDS": "mx1.acme.example, mx2.acme.example", "CLOCK_SKEW_TOLERANCE": "2m",
           "MAX_HOP_DELAY": "1h"}
    t = threading.Thread(target=lambda: result.setdefault("code", srvmod.main(env, on_ready)))
    t.start()
    assert ready.wait(5)
    srv = started["srv"]
    assert call(srv, "GET", "/readyz")[0] == 200
    s = srv.settings
    assert "acmesecurity.com" in s.protected
    assert (s.trusted_authserv_ids, s.skew_tolerance, s.max_hop_delay) == (
        ["mx1.acme.example", "mx2.acme.example"], 120.0, 3600.0)
    srv.shutdown()
    t.join(5)
    assert result["code"] == 0


def test_main_rejects_bad_config(tmp_path):
    assert srvmod.main({"PORT": "http", "PROTECTED_DOMAINS_FILE": BUNDLED}) == 2
    assert srvmod.main({"CLOCK_SKEW_TOLERANCE": "soon", "PROTECTED_DOMAINS_FILE": BUNDLED}) == 2
    assert srvmod.main({"PROTECTED_DOMAINS_FILE": str(tmp_path / "missing.txt")}) == 2
    bad = tmp_path / "list.txt"
    bad.write_text("Mail.Acme.com\n")
    assert srvmod.main({"PROTECTED_DOMAINS_FILE": str(bad)}) == 2
