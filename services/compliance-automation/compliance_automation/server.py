"""HTTP API of the compliance-automation service (standard library only).

    POST /v1/evaluate  {"config": {...}, "controls": [...]?, "frameworks": ["CIS", ...]?}
                       -> {"summary": {...}, "frameworks": {...}, "results": [...]}
                       (the loaded control set unless "controls" is given)
    GET  /v1/controls  -> the loaded control set
    GET  /healthz, /readyz

Environment: PORT (default 8000), HOST (default 0.0.0.0), CONTROLS_FILE (a
JSON control set replacing the bundled Linux baseline), LOG_LEVEL.
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

from .report import build_report, bundled_controls
from .rules import Control, RuleError, load_controls

SERVICE = "compliance-automation"
MAX_BODY = 4 << 20


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "ComplianceServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self._path() == "/v1/controls":
            self.send_json(200, {"controls": [_describe(c) for c in self.server.controls]})
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        if self._path() != "/v1/evaluate":
            self._not_found_or_wrong_method()
            return
        try:
            report = self._evaluate(self._read_json())
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        s = report["summary"]
        self.server.log.info("evaluated", controls=s["controls"], failed=s["failed"],
                             percent_compliant=s["percent_compliant"])
        self.send_json(200, report)

    def _evaluate(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"config", "controls", "frameworks"}:
            raise BadRequest('body must be {"config": {...}, "controls"?: [...], "frameworks"?: [...]}')
        config = body.get("config")
        if not isinstance(config, dict):
            raise BadRequest("config must be a JSON object")
        controls = self.server.controls
        if "controls" in body:
            try:
                controls = load_controls(body["controls"])
            except RuleError as exc:
                raise BadRequest(str(exc)) from None
        frameworks = body.get("frameworks")
        if frameworks is not None and (not isinstance(frameworks, list)
                                       or not all(isinstance(f, str) for f in frameworks)):
            raise BadRequest("frameworks must be a list of names")
        return build_report(controls, config, frameworks)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _not_found_or_wrong_method(self) -> None:
        path = self._path()
        if path == "/v1/evaluate":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/controls":
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


def _describe(c: Control) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "severity": c.severity,
            "frameworks": {k: list(v) for k, v in c.frameworks.items()}}


class ComplianceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], controls: list[Control], log: Logger):
        self.controls = controls
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(controls: list[Control], log: Logger, host: str = "127.0.0.1", port: int = 0) -> ComplianceServer:
    return ComplianceServer((host, port), controls, log)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[ComplianceServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    controls_file = env.str("CONTROLS_FILE", "")
    try:
        env.check()
        if controls_file:
            with open(controls_file, encoding="utf-8") as fh:
                controls = load_controls(json.load(fh))
        else:
            controls = bundled_controls()
    except (ConfigError, ValueError, OSError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(controls, log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1], controls=len(controls))
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
