"""HTTP API of the identity-access-analytics service (standard library only).

    POST /v1/analyse  an access snapshot (see snapshot.py) ->
                      {"roles","users_without_role","sod_violations","dormant_accounts",
                       "privilege_creep","users_without_peer_baseline","summary",...}
    GET  /v1/sod-rules -> the separation-of-duties rules applied by default
    GET  /healthz, /readyz

Environment: PORT (default 8000), HOST (default 0.0.0.0), SOD_RULES_FILE
(a JSON list of rules replacing the built-in ones), LOG_LEVEL.
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

from .risk import DEFAULT_SOD_RULES, SodRule
from .snapshot import SnapshotError, analyse, parse_rules

SERVICE = "identity-access-analytics"
MAX_BODY = 16 << 20


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "AccessServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self._path() == "/v1/sod-rules":
            self.send_json(200, {"rules": [{"id": r.id, "name": r.name, "conflicts": list(r.conflicts)}
                                           for r in self.server.rules]})
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        if self._path() != "/v1/analyse":
            self._not_found_or_wrong_method()
            return
        try:
            body = self._read_json()
            try:
                report = analyse(body, default_rules=self.server.rules)
            except SnapshotError as exc:
                raise BadRequest(str(exc)) from None
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        self.server.log.info("snapshot analysed", users=report["users"], **report["summary"])
        self.send_json(200, report)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _not_found_or_wrong_method(self) -> None:
        path = self._path()
        if path == "/v1/analyse":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/sod-rules":
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


class AccessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], rules: list[SodRule], log: Logger):
        self.rules = rules
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(rules: list[SodRule], log: Logger, host: str = "127.0.0.1", port: int = 0) -> AccessServer:
    return AccessServer((host, port), rules, log)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[AccessServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    rules_file = env.str("SOD_RULES_FILE", "")
    try:
        env.check()
        if rules_file:
            with open(rules_file, encoding="utf-8") as fh:
                rules = parse_rules(json.load(fh))
        else:
            rules = parse_rules(DEFAULT_SOD_RULES)
    except (ConfigError, ValueError, OSError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(rules, log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1], sod_rules=len(rules))
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
