"""HTTP API of the decision engine (standard library only).

    POST /v1/decide  {"subject": "alice", "signals": {"anomaly_score": 0.8,
                      "threat_intel": {"match": true, "confidence": 0.7, "category": "c2"},
                      "asset_criticality": "high", "user_risk": 0.3}}
                     -> {"decision", "model_decision", "risk", "thresholds", "factors",
                         "overrides", "explanation", "subject"}
    GET  /v1/model   -> weights, thresholds, defaults and override rules in force
    GET  /healthz, /readyz

Environment: PORT (default 8001), HOST (default 0.0.0.0), WEIGHT_ANOMALY (0.35),
WEIGHT_THREAT_INTEL (0.30), WEIGHT_ASSET_CRITICALITY (0.15), WEIGHT_USER_RISK (0.20),
STEP_UP_THRESHOLD (0.4), BLOCK_THRESHOLD (0.7), LOG_LEVEL.
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

from .model import ALLOW, DecisionModel, Signals, Thresholds, weights_from_env

SERVICE = "decision-engine"
MAX_BODY = 64 << 10
MAX_SUBJECT = 256


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "DecisionServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self.path.split("?", 1)[0] == "/v1/model":
            self.send_json(200, self.server.model.describe())
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/decide":
            self._not_found_or_wrong_method()
            return
        try:
            result = self._decide(self._read_json())
        except BadRequest as exc:
            # the body may be unread: don't reuse the connection
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        self.send_json(200, result)

    def _not_found_or_wrong_method(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/v1/decide":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/model":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "GET"})
        else:
            self.send_json(404, {"error": "not found"})

    def _decide(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(body) - {"subject", "signals"}
        if unknown:
            raise BadRequest(f"unknown field {sorted(unknown)[0]!r}")
        subject = body.get("subject")
        if subject is not None and (not isinstance(subject, str) or len(subject) > MAX_SUBJECT):
            raise BadRequest(f"subject must be a string of at most {MAX_SUBJECT} characters")
        try:
            signals = Signals.from_dict(body.get("signals"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        model = self.server.model
        decision = model.decide(signals)
        out = decision.to_dict(model.thresholds)
        out["subject"] = subject
        log = self.server.log.warn if decision.decision != ALLOW else self.server.log.info
        log("decision", subject=subject, decision=decision.decision, risk=out["risk"],
            overrides=[o["rule"] for o in decision.overrides if o["effect"] == "escalated"])
        return out

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


class DecisionServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: DecisionModel, log: Logger):
        self.model = model
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(model: DecisionModel, log: Logger, host: str = "127.0.0.1", port: int = 0) -> DecisionServer:
    return DecisionServer((host, port), model, log)


def load_model(env: Env) -> DecisionModel:
    """Build the model from the environment; raises ConfigError or ValueError."""
    weights = weights_from_env(env.float)
    thresholds = Thresholds(step_up=env.float("STEP_UP_THRESHOLD", 0.4), block=env.float("BLOCK_THRESHOLD", 0.7))
    env.check()
    return DecisionModel(weights, thresholds)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[DecisionServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8001)
    host = env.str("HOST", "0.0.0.0")
    try:
        model = load_model(env)
    except (ConfigError, ValueError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(model, log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1], **model.describe()["weights"])
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
