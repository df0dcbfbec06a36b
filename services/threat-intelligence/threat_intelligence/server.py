"""HTTP API of the threat-intelligence service (standard library only).

    POST /v1/feeds  {"format": "stix"|"csv", "source": "name", "content": <bundle or CSV text>}
                    -> {"source","parsed","added","updated","revoked","expired","purged","total",
                        "errors","error_count"}
    POST /v1/check  {"observables": ["1.2.3.4", ...], "event": {...}, "min_confidence": 60}
                    (either or both) -> {"matches": [...], "invalid": [...]}
    GET  /v1/stats  -> indicator counts per type
    GET  /healthz, /readyz

Loading a feed also purges indicators that have expired, and skips those
that arrive already expired.

Environment: PORT (default 8000), HOST (default 0.0.0.0), MIN_CONFIDENCE
(default floor for /v1/check, 0), LOG_LEVEL.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Optional

from platform_common.config import ConfigError, Env
from platform_common.health import HealthMixin, Readiness
from platform_common.logging import Logger, get_logger

from .feeds import parse_csv, parse_stix
from .matcher import IndicatorStore

SERVICE = "threat-intelligence"
MAX_BODY = 8 << 20
MAX_OBSERVABLES = 1000
MAX_ERRORS = 100


class BadRequest(Exception):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "IntelServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self._path() == "/v1/stats":
            self.send_json(200, {"total": len(self.server.store), "by_type": self.server.store.counts()})
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        routes: dict[str, Callable[[Any], Any]] = {"/v1/feeds": self._load, "/v1/check": self._check}
        action = routes.get(self._path())
        if action is None:
            self._not_found_or_wrong_method()
            return
        try:
            result = action(self._read_json())
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        self.send_json(200, result)

    # -- actions -----------------------------------------------------------
    def _load(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"format", "source", "content"}:
            raise BadRequest('body must be {"format", "source", "content"}')
        source = body.get("source")
        if not isinstance(source, str) or not source.strip():
            raise BadRequest("source must be a non-empty string")
        fmt, content = body.get("format"), body.get("content")
        if fmt == "csv":
            if not isinstance(content, str):
                raise BadRequest("csv content must be a string")
            parsed = parse_csv(content, source.strip())
        elif fmt == "stix":
            if isinstance(content, str):
                try:
                    content = json.loads(content)
                except json.JSONDecodeError:
                    raise BadRequest("stix content is not valid JSON") from None
            parsed = parse_stix(content, source.strip())
        else:
            raise BadRequest('format must be "stix" or "csv"')
        store = self.server.store
        now = self.server.now()
        purged = store.purge_expired(now)
        stats = store.load(parsed.indicators, parsed.revoked, now)
        self.server.log.info("feed loaded", source=source, parsed=len(parsed.indicators),
                             errors=len(parsed.errors), **stats.to_dict())
        return {"source": source.strip(), "parsed": len(parsed.indicators), **stats.to_dict(),
                "purged": purged, "total": len(store), "errors": parsed.errors[:MAX_ERRORS],
                "error_count": len(parsed.errors)}

    def _check(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not ({"observables", "event"} & set(body)) \
                or set(body) - {"observables", "event", "min_confidence"}:
            raise BadRequest('body must have "observables" and/or "event"')
        observables = body.get("observables", [])
        if not isinstance(observables, list) or not all(isinstance(o, str) for o in observables):
            raise BadRequest("observables must be a list of strings")
        if len(observables) > MAX_OBSERVABLES:
            raise BadRequest(f"at most {MAX_OBSERVABLES} observables per request")
        floor = body.get("min_confidence", self.server.min_confidence)
        if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 100:
            raise BadRequest("min_confidence must be a number from 0 to 100")
        now = self.server.now()
        matches, invalid = [], []
        for obs in observables:
            try:
                matches.extend(self.server.store.check(obs, now, floor))
            except ValueError:
                invalid.append(obs)
        if "event" in body:
            try:
                matches.extend(self.server.store.check_event(body["event"], now, floor))
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        if matches:
            self.server.log.warn("indicator match", count=len(matches),
                                 observables=sorted({m.observable for m in matches}))
        return {"matches": [m.to_dict() for m in matches], "invalid": invalid}

    # -- plumbing ----------------------------------------------------------
    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _not_found_or_wrong_method(self) -> None:
        path = self._path()
        if path in ("/v1/feeds", "/v1/check"):
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/stats":
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


class IntelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: IndicatorStore, log: Logger,
                 min_confidence: float, now: Callable[[], dt.datetime]):
        self.store = store
        self.log = log
        self.min_confidence = min_confidence
        self.now = now
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(store: IndicatorStore, log: Logger, host: str = "127.0.0.1", port: int = 0,
                min_confidence: float = 0, now: Callable[[], dt.datetime] = utcnow) -> IntelServer:
    return IntelServer((host, port), store, log, min_confidence, now)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[IntelServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    min_confidence = env.float("MIN_CONFIDENCE", 0.0)
    try:
        env.check()
        if not 0 <= min_confidence <= 100:
            raise ValueError("MIN_CONFIDENCE must be within 0-100")
    except (ConfigError, ValueError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(IndicatorStore(), log, host, port, min_confidence)

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
