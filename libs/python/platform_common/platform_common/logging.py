"""Structured logging: one JSON object per line.

Built on the standard :mod:`logging` module so third-party log records are
formatted the same way::

    log = get_logger("behavioral-analysis")
    log.info("scored", user="alice", score=4.2)
    req_log = log.bind(request_id="abc")
"""

from __future__ import annotations

import datetime as _dt
import json
import logging as _logging
import os
import sys
from typing import Any, Optional, TextIO

_LEVELS = {
    "debug": _logging.DEBUG,
    "info": _logging.INFO,
    "warn": _logging.WARNING,
    "warning": _logging.WARNING,
    "error": _logging.ERROR,
}
_RESERVED = {"ts", "level", "msg", "logger"}


def parse_level(name: Optional[str]) -> int:
    """Map a level name (case-insensitive, default info) to a logging level."""
    if name is None or not name.strip():
        return _logging.INFO
    try:
        return _LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r}") from None


class JsonFormatter(_logging.Formatter):
    """Formats a record as a JSON object with ts, level, msg and fields."""

    def format(self, record: _logging.LogRecord) -> str:
        ts = _dt.datetime.fromtimestamp(record.created, tz=_dt.timezone.utc)
        out: dict[str, Any] = {
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower().replace("warning", "warn"),
            "msg": record.getMessage(),
            "logger": record.name,
        }
        for key, value in getattr(record, "fields", {}).items():
            out[("field." + key) if key in _RESERVED else key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, sort_keys=False)


class Logger:
    """A thin wrapper over a stdlib logger that carries bound fields."""

    def __init__(self, logger: _logging.Logger, fields: Optional[dict[str, Any]] = None):
        self._logger = logger
        self._fields = dict(fields or {})

    @property
    def stdlib(self) -> _logging.Logger:
        return self._logger

    def bind(self, **fields: Any) -> "Logger":
        """Return a logger that adds ``fields`` to every record."""
        return Logger(self._logger, {**self._fields, **fields})

    def _log(self, level: int, msg: str, fields: dict[str, Any], exc_info: bool = False, /) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, msg, extra={"fields": {**self._fields, **fields}}, exc_info=exc_info)

    def debug(self, msg: str, /, **fields: Any) -> None:
        self._log(_logging.DEBUG, msg, fields)

    def info(self, msg: str, /, **fields: Any) -> None:
        self._log(_logging.INFO, msg, fields)

    def warn(self, msg: str, /, **fields: Any) -> None:
        self._log(_logging.WARNING, msg, fields)

    def error(self, msg: str, /, **fields: Any) -> None:
        self._log(_logging.ERROR, msg, fields)

    def exception(self, msg: str, /, **fields: Any) -> None:
        """Log at error level with the current exception's traceback."""
        self._log(_logging.ERROR, msg, fields, True)


def get_logger(service: str, level: Optional[str] = None, stream: Optional[TextIO] = None) -> Logger:
    """A JSON logger named ``service``.

    The level comes from ``level`` or else ``LOG_LEVEL`` (default info); an
    unknown level falls back to info with a warning. Calling it again for
    the same service reconfigures rather than duplicating handlers.
    """
    raw = level if level is not None else os.environ.get("LOG_LEVEL")
    bad = None
    try:
        lvl = parse_level(raw)
    except ValueError as exc:
        lvl, bad = _logging.INFO, str(exc)
    std = _logging.getLogger(service)
    for handler in list(std.handlers):
        std.removeHandler(handler)
    handler = _logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    std.addHandler(handler)
    std.setLevel(lvl)
    std.propagate = False
    log = Logger(std, {"service": service})
    if bad:
        log.warn("invalid LOG_LEVEL, using info", error=bad)
    return log
