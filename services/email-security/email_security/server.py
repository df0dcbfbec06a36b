"""HTTP API of the email-security service (standard library only).

    POST /v1/analyse  {"message": "<raw RFC 5322 headers, or a whole message>"}
                      -> {"verdict","score","reasons","from","reply_to","subject",
                          "authentication","received","lookalikes"}
    GET  /v1/protected-domains -> the domains lookalikes are checked against
    GET  /healthz, /readyz

Environment: PORT (default 8000), HOST (default 0.0.0.0),
PROTECTED_DOMAINS_FILE (default data/protected_domains.txt),
TRUSTED_AUTHSERV_IDS (comma-separated authserv-ids of our own mail servers;
default: trust the topmost Authentication-Results only),
CLOCK_SKEW_TOLERANCE (duration, 5m), MAX_HOP_DELAY (duration, 24h), LOG_LEVEL.
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

from . import check_domains
from .analyzer import Settings, analyse

SERVICE = "email-security"
MAX_BODY = 1 << 20


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "EmailServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self._path() == "/v1/protected-domains":
            self.send_json(200, {"domains": list(self.server.settings.protected)})
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        if self._path() != "/v1/analyse":
            self._not_found_or_wrong_method()
            return
        try:
            body = self._read_json()
            if not isinstance(body, dict) or set(body) != {"message"} or not isinstance(body["message"], str):
                raise BadRequest('body must be {"message": "<raw headers>"}')
            try:
                report = analyse(body["message"], self.server.settings)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        if report["verdict"] != "clean":
            sender = report["from"]["address"] if report["from"] else None
            self.server.log.warn("suspicious message", verdict=report["verdict"], score=report["score"],
                                 sender=sender, reasons=[r["code"] for r in report["reasons"]])
        self.send_json(200, report)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _not_found_or_wrong_method(self) -> None:
        path = self._path()
        if path == "/v1/analyse":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/protected-domains":
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


class EmailServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: Settings, log: Logger):
        self.settings = settings
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(settings: Settings, log: Logger, host: str = "127.0.0.1", port: int = 0) -> EmailServer:
    return EmailServer((host, port), settings, log)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[EmailServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    domains_file = env.str("PROTECTED_DOMAINS_FILE", "data/protected_domains.txt")
    trusted = env.list("TRUSTED_AUTHSERV_IDS")
    tolerance = env.duration("CLOCK_SKEW_TOLERANCE", 300.0)
    max_delay = env.duration("MAX_HOP_DELAY", 86400.0)
    try:
        env.check()
        settings = Settings(check_domains.load(domains_file), trusted, tolerance, max_delay)
    except (ConfigError, ValueError, OSError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(settings, log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1], protected_domains=len(settings.protected))
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
