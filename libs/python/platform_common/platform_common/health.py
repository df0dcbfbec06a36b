"""Liveness and readiness endpoints for :mod:`http.server` services.

Mix :class:`HealthMixin` into a ``BaseHTTPRequestHandler`` and call
:meth:`HealthMixin.handle_health` first in ``do_GET``::

    class Handler(HealthMixin, BaseHTTPRequestHandler):
        def do_GET(self):
            if self.handle_health():
                return
            ...

``/healthz`` always answers 200 ``{"status": "ok"}``. ``/readyz`` asks the
server's ``readiness`` attribute (a :class:`Readiness` or any callable
returning ``(ready, reason)``) and answers 200 or 503.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Optional, Tuple

Check = Callable[[], Tuple[bool, str]]


class Readiness:
    """A thread-safe readiness flag with optional extra checks."""

    def __init__(self, ready: bool = False, reason: str = "starting"):
        self._lock = threading.Lock()
        self._ready = ready
        self._reason = reason
        self._checks: list[Tuple[str, Check]] = []

    def set(self, ready: bool, reason: str = "") -> None:
        with self._lock:
            self._ready = ready
            self._reason = reason or ("ready" if ready else "not ready")

    def add_check(self, name: str, check: Check) -> None:
        """Add a dependency check; all must pass for the service to be ready."""
        with self._lock:
            self._checks.append((name, check))

    def __call__(self) -> Tuple[bool, str]:
        with self._lock:
            ready, reason, checks = self._ready, self._reason, list(self._checks)
        if not ready:
            return False, reason
        for name, check in checks:
            try:
                ok, why = check()
            except Exception as exc:  # a crashing check means not ready
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if not ok:
                return False, f"{name}: {why}"
        return True, "ready"


class HealthMixin:
    """Adds ``/healthz`` and ``/readyz`` handling and a JSON response helper."""

    health_paths = ("/healthz", "/readyz")

    def send_json(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> None:
        data = (json.dumps(body) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_health(self) -> bool:
        """Answer a health request; returns False if the path is not one."""
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self.send_json(200, {"status": "ok"})
            return True
        if path == "/readyz":
            check = getattr(self.server, "readiness", None)
            ready, reason = (True, "ready") if check is None else check()
            if ready:
                self.send_json(200, {"status": "ready"})
            else:
                self.send_json(503, {"status": "unavailable", "reason": reason})
            return True
        return False
