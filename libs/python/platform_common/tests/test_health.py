import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from platform_common.health import HealthMixin, Readiness


class Handler(HealthMixin, BaseHTTPRequestHandler):
    def do_GET(self):
        if self.handle_health():
            return
        self.send_json(404, {"error": "not found"}, headers={"X-Test": "1"})

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(srv, path, method="GET"):
    url = f"http://127.0.0.1:{srv.server_address[1]}{path}"
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_healthz_always_ok(server):
    server.readiness = Readiness(ready=False)
    status, headers, body = get(server, "/healthz?probe=1")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"status": "ok"}


def test_readyz_without_readiness_is_ready(server):
    status, _, body = get(server, "/readyz")
    assert status == 200 and json.loads(body) == {"status": "ready"}


def test_readyz_follows_flag(server):
    server.readiness = Readiness()
    status, _, body = get(server, "/readyz")
    assert status == 503
    assert json.loads(body) == {"status": "unavailable", "reason": "starting"}
    server.readiness.set(True)
    assert get(server, "/readyz")[0] == 200
    server.readiness.set(False, "draining")
    status, _, body = get(server, "/readyz")
    assert status == 503 and json.loads(body)["reason"] == "draining"


def test_other_paths_fall_through(server):
    status, headers, body = get(server, "/v1/other")
    assert status == 404 and headers["X-Test"] == "1"
    assert json.loads(body) == {"error": "not found"}


def test_head_sends_no_body(server):
    status, headers, body = get(server, "/healthz", method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) > 0


def test_readiness_checks():
    r = Readiness(ready=True)
    assert r() == (True, "ready")
    r.add_check("model", lambda: (True, ""))
    r.add_check("store", lambda: (False, "disk full"))
    assert r() == (False, "store: disk full")

    def boom():
        raise OSError("unreachable")

    r2 = Readiness(ready=True)
    r2.add_check("db", boom)
    assert r2() == (False, "db: OSError: unreachable")
    r2.set(False)
    assert r2() == (False, "not ready")
    r2.set(True)
    assert r2()[0] is False  # the failing check still applies
