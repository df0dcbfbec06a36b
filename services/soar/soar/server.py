"""HTTP API of the SOAR playbook runner (standard library only).

    POST /v1/run    {"playbook": {...}, "alert": {...}} -> the execution:
                    {"playbook","status","duration","steps":[...],"log":[...]}
    GET  /v1/state  -> what the built-in connectors did: blocklist, outbox, tickets
    GET  /healthz, /readyz

A playbook that runs and fails is still a 200 (its status says "failed");
an invalid playbook or an unknown action is a 400.

Environment: PORT (default 8000), HOST (default 0.0.0.0), KNOWN_BAD
(comma-separated observables the enrich action calls malicious), LOG_LEVEL.
"""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Optional

from platform_common.config import ConfigError, Env
from platform_common.health import HealthMixin, Readiness
from platform_common.logging import Logger, get_logger

from .actions import Connectors
from .playbook import Playbook, PlaybookError
from .runner import Runner

SERVICE = "soar"
MAX_BODY = 1 << 20


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "SoarServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self._path() == "/v1/state":
            self.send_json(200, self.server.connectors.state())
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        if self._path() != "/v1/run":
            self._not_found_or_wrong_method()
            return
        try:
            body = self._read_json()
            if not isinstance(body, dict) or set(body) - {"playbook", "alert"}:
                raise BadRequest('body must be {"playbook": {...}, "alert": {...}}')
            alert = body.get("alert", {})
            if not isinstance(alert, dict):
                raise BadRequest("alert must be a JSON object")
            try:
                playbook = Playbook.from_dict(body.get("playbook"))
                execution = self.server.runner.run(playbook, alert)
            except (PlaybookError, ValueError) as exc:
                raise BadRequest(str(exc)) from None
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        self.server.log.info("playbook run", playbook=playbook.name, status=execution.status,
                             steps=len(execution.steps), duration=round(execution.duration, 3))
        self.send_json(200, execution.to_dict())

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _not_found_or_wrong_method(self) -> None:
        path = self._path()
        if path == "/v1/run":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/state":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "GET"})
        else:
            self.send_json(404, {"error": "not found"})

    def _read_json(self) -> Any:
        ctype = self.headers.get("Content-Type", "application/json")
        if not ctype.startswith("application/json"):
            raise BadRequest("content-type must be application/json")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise BadRequest("Content-Length required") from None
        if length < 0 or length > MAX_BODY:
            raise BadRequest(f"body must be at most {MAX_BODY} bytes")
        try:
            return json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("invalid JSON body") from None

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # replaced by the structured access log below

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        self.server.log.info("request", method=self.command, path=self._path(),
                             status=int(code) if str(code).isdigit() else code)


class SoarServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], runner: Runner, connectors: Connectors, log: Logger):
        self.runner = runner
        self.connectors = connectors
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(connectors: Connectors, log: Logger, host: str = "127.0.0.1", port: int = 0,
                runner: Optional[Runner] = None) -> SoarServer:
    return SoarServer((host, port), runner or Runner(connectors.handlers()), connectors, log)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[SoarServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    known_bad = env.list("KNOWN_BAD")
    try:
        env.check()
    except ConfigError as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(Connectors(known_bad), log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1], actions=sorted(server.runner.handlers))
    if on_ready is not None:
        on_ready(server)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
