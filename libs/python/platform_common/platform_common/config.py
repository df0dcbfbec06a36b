"""Typed configuration from environment variables.

Problems are collected rather than raised one by one, so a service can
report every bad or missing setting at start-up::

    env = Env()
    port = env.int("PORT", 8000)
    secret = env.required("TOKEN_SECRET")
    env.check()  # raises ConfigError listing all problems
"""

from __future__ import annotations

import os
import re
from typing import Mapping, Optional

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class ConfigError(ValueError):
    """Raised by :meth:`Env.check`; ``problems`` lists each issue."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("config: " + "; ".join(self.problems))


def parse_duration(text: str) -> float:
    """Parse ``"90"``, ``"1.5s"``, ``"250ms"``, ``"1h30m"`` into seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration")
    return total


class Env:
    """Reads settings from a mapping (``os.environ`` by default)."""

    def __init__(self, environ: Optional[Mapping[str, str]] = None):
        self._env = os.environ if environ is None else environ
        self.problems: list[str] = []

    def _raw(self, key: str) -> Optional[str]:
        value = self._env.get(key)
        if value is None or not value.strip():
            return None
        return value.strip()

    def str(self, key: str, default: str = "") -> str:
        raw = self._raw(key)
        return default if raw is None else raw

    def required(self, key: str) -> str:
        raw = self._raw(key)
        if raw is None:
            self.problems.append(f"{key}: required but not set")
            return ""
        return raw

    def int(self, key: str, default: int = 0) -> int:
        raw = self._raw(key)
        if raw is None:
            return default
        try:
            return int(raw, 10)
        except ValueError:
            self.problems.append(f"{key}: {raw!r} is not an integer")
            return default

    def float(self, key: str, default: float = 0.0) -> float:
        raw = self._raw(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            self.problems.append(f"{key}: {raw!r} is not a number")
            return default

    def bool(self, key: str, default: bool = False) -> bool:
        raw = self._raw(key)
        if raw is None:
            return default
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        self.problems.append(f"{key}: {raw!r} is not a boolean")
        return default

    def duration(self, key: str, default: float = 0.0) -> float:
        """A duration in seconds; a bare number is taken as seconds."""
        raw = self._raw(key)
        if raw is None:
            return default
        try:
            return parse_duration(raw)
        except ValueError:
            self.problems.append(f"{key}: {raw!r} is not a duration")
            return default

    def list(self, key: str, default: Optional[list[str]] = None) -> list[str]:
        raw = self._raw(key)
        if raw is None:
            return list(default or [])
        return [part.strip() for part in raw.split(",") if part.strip()]

    def check(self) -> None:
        """Raise :class:`ConfigError` if any setting was missing or invalid."""
        if self.problems:
            raise ConfigError(self.problems)
