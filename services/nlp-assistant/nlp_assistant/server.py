"""HTTP API of the analyst assistant (standard library only).

    POST /v1/ask      {"question": "..."} -> {"intent","confidence","entities","answer","actions","needs_input"}
    GET  /v1/intents  -> the intents the model knows and its training-set size per intent
    GET  /healthz, /readyz

Environment: PORT (default 8000), HOST (default 0.0.0.0), MIN_CONFIDENCE
(0.4; below it the intent is "unknown"), NB_ALPHA (Laplace smoothing, 1.0),
TRAINING_FILE (a labelled set replacing the bundled one), LOG_LEVEL.
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

from .assistant import Assistant
from .classifier import IntentClassifier, load_examples

SERVICE = "nlp-assistant"
MAX_BODY = 64 * 1024
MAX_QUESTION = 4000


class BadRequest(Exception):
    pass


class Handler(HealthMixin, BaseHTTPRequestHandler):
    server: "AssistantServer"
    server_version = SERVICE
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.handle_health():
            return
        if self._path() == "/v1/intents":
            clf = self.server.assistant.classifier
            self.send_json(200, {"intents": clf.examples, "vocabulary": len(clf.model.vocabulary),
                                 "min_confidence": clf.min_confidence})
            return
        self._not_found_or_wrong_method()

    def do_POST(self) -> None:
        if self._path() != "/v1/ask":
            self._not_found_or_wrong_method()
            return
        try:
            body = self._read_json()
            if not isinstance(body, dict) or not isinstance(body.get("question"), str):
                raise BadRequest('body must be {"question": "..."}')
            question = body["question"]
            if not question.strip():
                raise BadRequest("question is empty")
            if len(question) > MAX_QUESTION:
                raise BadRequest(f"question must be at most {MAX_QUESTION} characters")
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)}, headers={"Connection": "close"})
            return
        answer = self.server.assistant.ask(question)
        self.server.log.info("answered", intent=answer.intent, confidence=round(answer.confidence, 3),
                             entities=sum(len(v) for v in answer.entities.to_dict().values()))
        self.send_json(200, answer.to_dict())

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _not_found_or_wrong_method(self) -> None:
        path = self._path()
        if path == "/v1/ask":
            self.send_json(405, {"error": "method not allowed"}, headers={"Allow": "POST"})
        elif path in self.health_paths or path == "/v1/intents":
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


class AssistantServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], assistant: Assistant, log: Logger):
        self.assistant = assistant
        self.log = log
        self.readiness = Readiness()
        super().__init__(address, Handler)


def make_server(assistant: Assistant, log: Logger, host: str = "127.0.0.1", port: int = 0) -> AssistantServer:
    return AssistantServer((host, port), assistant, log)


def main(environ: Optional[Mapping[str, str]] = None,
         on_ready: Optional[Callable[[AssistantServer], None]] = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    log = get_logger(SERVICE)
    env = Env(environ)
    port = env.int("PORT", 8000)
    host = env.str("HOST", "0.0.0.0")
    min_confidence = env.float("MIN_CONFIDENCE", 0.4)
    alpha = env.float("NB_ALPHA", 1.0)
    training = env.str("TRAINING_FILE", "") or None
    try:
        env.check()
        classifier = IntentClassifier(load_examples(training), alpha=alpha, min_confidence=min_confidence)
    except (ConfigError, ValueError, OSError) as exc:
        log.error("invalid configuration", error=str(exc))
        return 2

    server = make_server(Assistant(classifier), log, host, port)

    def stop(*_: Any) -> None:
        server.readiness.set(False, "shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    server.readiness.set(True)
    log.info("listening", host=host, port=server.server_address[1], intents=len(classifier.examples))
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
