"""HTTP API of the behavioural-analysis service (standard library only).

    POST /v1/score    one event -> {"user","score","level","baseline","zscores","reasons"};
                      the event is learned into the baseline only if it scored normal
    POST /v1/observe  {"events": [...]} -> {"observed": n}; bulk-loads history, all or nothing
    GET  /v1/baseline/<user> -> the user's baseline summary, 404 if unknown
    GET  /healthz, /readyz

Environment: PORT (default 8000), HOST (default 0.0.0.0),
SUSPICIOUS_THRESHOLD (3.0), ANOMALOUS_THRESHOLD (5.0), MIN_HISTORY (10),
LOG_LEVEL.
"""

from __future__ import annotations

import json
import signal
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Optional

from platform_common.config import ConfigError, Env
from platform_common.health import HealthMixin, Readiness
from platform_common.logging import Logger, get_logger

from .anomaly import Event, Scorer

SERVICE = "behavioral-analysis"
MAX_BODY = 1 << 20
MAX_EVENTS = 10_000


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "AnalysisServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # -- routing -----------------------------------------------------------
    def do_GET(self) -> None:
        if self.handle_health():
            return
        path = self.path.split("?", 1)[0]
        if path.startswith("/v1/baseline/"):
            user = urllib.parse.unquote(path[len("/v1/baseline/"):])
            summary = self.server.scorer.baseline(user)
            if summary is None:
                self.send_json(404, {"error": "unknown user"})
            else:
                self.send_json(200, {"user": user, "baseline": summary})
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        routes: dict[str, Callable[[Any], Any]] = {"/v1/score": self._score, "/v1/observe": self._observe}
        action = routes.get(path)
        if action is None:
            self._not_found_or_wrong_method()
            return
        try:
            body = self._read_json()
            result = action(body)
        except BadRequest as exc:
            # the body may be unread: don't reuse the connection
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        self.send_json(200, result)

    def _not_found_or_wrong_method(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/v1/score", "/v1/observe"):
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path.startswith("/v1/baseline/"):
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "GET"})
        else:
            self.send_json(404, {"error": "not found"})

    # -- actions -----------------------------------------------------------
    def _score(self, body: Any) -> dict[str, Any]:
        event = _event(body)
        result = self.server.scorer.score_and_learn(event)
        if result.level != "normal":
            self.server.log.warn("anomalous login", user=event.user, score=round(result.score, 3),
                                 verdict=result.level, reasons=result.reasons)
        return result.to_dict()

    def _observe(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise BadRequest('body must be {"events": [...]}')
        if len(body["events"]) > MAX_EVENTS:
            raise BadRequest(f"at most {MAX_EVENTS} events per request")
        events = []
        for i, item in enumerate(body["events"]):
            try:
                events.append(_event(item))
            except BadRequest as exc:
                raise BadRequest(f"events[{i}]: {exc}") from None
        for event in events:
            self.server.scorer.observe(event)
        return {"observed": len(events)}

    # -- plumbing ----------------------------------------------------------
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
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("invalid JSON body") from None

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # replaced by the structured access log below

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        self.server.log.info("request", method=self.command, path=self.path.split("?", 1)[0],
                             status=int(code) if str(code).isdigit() else code)


def _event(data: Any) -> Event:
    try:
        return Event.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise BadRequest(str(exc)) from None


class AnalysisServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], scorer: Scorer, log: Logger):
        self.scorer = scorer
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(scorer: Scorer, log: Logger, host: str = "127.0.0.1", port: int = 0) -> AnalysisServer:
    return AnalysisServer((host, port), scorer, log)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[AnalysisServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    suspicious = env.float("SUSPICIOUS_THRESHOLD", 3.0)
    anomalous = env.float("ANOMALOUS_THRESHOLD", 5.0)
    min_history = env.int("MIN_HISTORY", 10)
    try:
        env.check()
        scorer = Scorer(suspicious=suspicious, anomalous=anomalous, min_history=min_history)
    except (ConfigError, ValueError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(scorer, log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1])
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
