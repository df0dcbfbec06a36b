"""Anomaly scoring of login sessions against per-user baselines.

Each user's history is summarised per feature:

- ``login_hour``: hour of day, a *circular* quantity (23:00 and 01:00 are
  two hours apart), summarised by its circular mean and circular standard
  deviation;
- ``bytes_out``: data sent during the session, heavy-tailed, so modelled
  as ``log1p(bytes)`` with a running mean and standard deviation;
- ``failed_logins`` and ``distinct_hosts``: counts, running mean/std.

A new event gets a z-score per feature, ``(x - mean) / max(std, floor)``.
The floor stops a user with perfectly regular habits from turning every
tiny deviation into an enormous score. For ``bytes_out``,
``failed_logins`` and ``distinct_hosts`` only *more* than usual is
suspicious, so their z-scores are one-sided. A login from a country never
seen for the user counts as one more pseudo-feature with a fixed z.

The combined score is the weighted Euclidean norm of the z-scores, i.e.
a Mahalanobis distance under a diagonal covariance, and maps to a level:
``normal`` below ``suspicious`` (default 3.0), ``anomalous`` from
``anomalous`` (default 5.0).

Users with fewer than ``min_history`` events are scored against the
population (global) baseline; with no usable baseline at all the score is
0 and the level ``normal``, flagged by ``baseline == "none"``.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

NORMAL, SUSPICIOUS, ANOMALOUS = "normal", "suspicious", "anomalous"

#: z-scores are clipped to this magnitude so one absurd value cannot
#: drown out the explanation of the others.
Z_MAX = 10.0

#: Per-feature floor on the standard deviation, in the feature's units.
STD_FLOOR = {
    "login_hour": 1.0,  # hours
    "bytes_out": 0.5,  # log1p(bytes): ~1.65x
    "failed_logins": 1.0,
    "distinct_hosts": 1.0,
}
LINEAR = ("bytes_out", "failed_logins", "distinct_hosts")
FEATURES = ("login_hour",) + LINEAR
DEFAULT_WEIGHTS = {name: 1.0 for name in FEATURES + ("new_country",)}

#: Only reported in reasons when at least this far from the baseline.
REASON_Z = 2.0


@dataclass(frozen=True)
class Event:
    """One login session."""

    user: str
    login_hour: float
    bytes_out: float = 0.0
    failed_logins: int = 0
    distinct_hosts: int = 1
    country: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.user, str) or not self.user.strip():
            raise ValueError("user must be a non-empty string")
        _check_number("login_hour", self.login_hour, lo=0.0, hi=24.0, hi_open=True)
        _check_number("bytes_out", self.bytes_out, lo=0.0)
        _check_number("failed_logins", self.failed_logins, lo=0, integer=True)
        _check_number("distinct_hosts", self.distinct_hosts, lo=0, integer=True)
        if not isinstance(self.country, str):
            raise ValueError("country must be a string")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Event":
        """Build an event from decoded JSON, rejecting unknown keys."""
        if not isinstance(data, Mapping):
            raise ValueError("event must be a JSON object")
        allowed = {"user", "login_hour", "bytes_out", "failed_logins", "distinct_hosts", "country"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}")
        if "user" not in data or "login_hour" not in data:
            raise ValueError("user and login_hour are required")
        kwargs = dict(data)
        if isinstance(kwargs.get("country"), str):
            kwargs["country"] = kwargs["country"].strip().upper()
        return cls(**kwargs)

    def value(self, feature: str) -> float:
        if feature == "bytes_out":
            return math.log1p(self.bytes_out)
        return float(getattr(self, feature))


def _check_number(name, value, lo=None, hi=None, hi_open=False, integer=False) -> None:
    # bool is an int subclass; True is not a byte count.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    if integer and not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    if lo is not None and value < lo:
        raise ValueError(f"{name} must be >= {lo}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise ValueError(f"{name} must be < {hi}")


class RunningStats:
    """Mean and sample standard deviation by Welford's online algorithm."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (x - self.mean)

    @property
    def std(self) -> float:
        if self.n < 2:
            return 0.0
        return math.sqrt(max(self._m2, 0.0) / (self.n - 1))


class CircularStats:
    """Circular mean and standard deviation of hours on a 24-hour clock."""

    def __init__(self) -> None:
        self.n = 0
        self._sin = 0.0
        self._cos = 0.0

    @staticmethod
    def _angle(hour: float) -> float:
        return 2.0 * math.pi * hour / 24.0

    def add(self, hour: float) -> None:
        a = self._angle(hour)
        self.n += 1
        self._sin += math.sin(a)
        self._cos += math.cos(a)

    @property
    def resultant(self) -> float:
        """Mean resultant length R in [0, 1]: 1 = always the same hour."""
        if self.n == 0:
            return 0.0
        return min(1.0, math.hypot(self._sin, self._cos) / self.n)

    @property
    def mean(self) -> Optional[float]:
        """Mean hour in [0, 24), or None when undefined (no data or R ~ 0)."""
        if self.resultant < 1e-9:
            return None
        return (math.atan2(self._sin, self._cos) * 24.0 / (2.0 * math.pi)) % 24.0

    @property
    def std(self) -> float:
        """Circular standard deviation sqrt(-2 ln R), in hours."""
        r = self.resultant
        if r < 1e-9:
            return math.inf
        return math.sqrt(-2.0 * math.log(r)) * 24.0 / (2.0 * math.pi)

    @staticmethod
    def distance(a: float, b: float) -> float:
        """Shortest distance between two hours on the clock, in [0, 12]."""
        d = abs(a - b) % 24.0
        return min(d, 24.0 - d)


class Baseline:
    """The behavioural summary of one user (or of everyone)."""

    def __init__(self) -> None:
        self.n = 0
        self.hour = CircularStats()
        self.linear = {name: RunningStats() for name in LINEAR}
        self.countries: Counter[str] = Counter()

    def add(self, event: Event) -> None:
        self.n += 1
        self.hour.add(event.login_hour)
        for name, stats in self.linear.items():
            stats.add(event.value(name))
        if event.country:
            self.countries[event.country] += 1

    def zscores(self, event: Event) -> dict[str, float]:
        """Per-feature z-scores of ``event`` against this baseline."""
        z: dict[str, float] = {}
        mean_hour = self.hour.mean
        if mean_hour is None:
            z["login_hour"] = 0.0
        else:
            spread = max(self.hour.std, STD_FLOOR["login_hour"])
            z["login_hour"] = CircularStats.distance(event.login_hour, mean_hour) / spread
        for name, stats in self.linear.items():
            spread = max(stats.std, STD_FLOOR[name])
            z[name] = max(0.0, (event.value(name) - stats.mean) / spread)
        return {name: min(value, Z_MAX) for name, value in z.items()}

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.n,
            "login_hour": {"mean": _round(self.hour.mean), "std": _round(self.hour.std)},
            **{
                name: {"mean": _round(s.mean), "std": _round(s.std)}
                for name, s in self.linear.items()
            },
            "countries": sorted(self.countries),
        }


def _round(x: Optional[float]) -> Optional[float]:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 4)


@dataclass
class ScoreResult:
    user: str
    score: float
    level: str
    baseline: str  # "user", "global" or "none"
    zscores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "score": round(self.score, 4),
            "level": self.level,
            "baseline": self.baseline,
            "zscores": {k: round(v, 4) for k, v in self.zscores.items()},
            "reasons": list(self.reasons),
        }


class Scorer:
    """Scores events against per-user (or global) baselines. Thread-safe."""

    def __init__(
        self,
        suspicious: float = 3.0,
        anomalous: float = 5.0,
        min_history: int = 10,
        weights: Optional[Mapping[str, float]] = None,
        new_country_z: float = 3.0,
    ) -> None:
        if not 0 < suspicious < anomalous:
            raise ValueError("thresholds must satisfy 0 < suspicious < anomalous")
        if min_history < 2:
            raise ValueError("min_history must be at least 2")
        self.weights = dict(DEFAULT_WEIGHTS)
        for name, w in (weights or {}).items():
            if name not in self.weights:
                raise ValueError(f"unknown feature weight {name!r}")
            if w < 0:
                raise ValueError(f"weight of {name} must be >= 0")
            self.weights[name] = float(w)
        self.suspicious = suspicious
        self.anomalous = anomalous
        self.min_history = min_history
        self.new_country_z = new_country_z
        self._users: dict[str, Baseline] = {}
        self._global = Baseline()
        self._lock = threading.Lock()

    def level(self, score: float) -> str:
        if score >= self.anomalous:
            return ANOMALOUS
        if score >= self.suspicious:
            return SUSPICIOUS
        return NORMAL

    def observe(self, event: Event) -> None:
        """Add an event to the user's and the global baseline."""
        with self._lock:
            self._observe(event)

    def _observe(self, event: Event) -> None:
        self._users.setdefault(event.user, Baseline()).add(event)
        self._global.add(event)

    def score(self, event: Event) -> ScoreResult:
        with self._lock:
            return self._score(event)

    def score_and_learn(self, event: Event) -> ScoreResult:
        """Score, then learn from the event only if it looked normal, so
        an attacker's sessions do not become the user's new baseline."""
        with self._lock:
            result = self._score(event)
            if result.level == NORMAL:
                self._observe(event)
            return result

    def _score(self, event: Event) -> ScoreResult:
        user = self._users.get(event.user)
        if user is not None and user.n >= self.min_history:
            base, kind = user, "user"
        elif self._global.n >= self.min_history:
            base, kind = self._global, "global"
        else:
            return ScoreResult(event.user, 0.0, NORMAL, "none", reasons=["insufficient history"])

        z = base.zscores(event)
        reasons = [_reason(name, value, base) for name, value in z.items() if value >= REASON_Z]
        if event.country and base.countries and event.country not in base.countries:
            z["new_country"] = self.new_country_z
            reasons.append(f"first login from {event.country}")
        total = math.sqrt(sum(self.weights[name] * value * value for name, value in z.items()))
        return ScoreResult(event.user, total, self.level(total), kind, z, reasons)

    def baseline(self, user: str) -> Optional[dict[str, Any]]:
        with self._lock:
            b = self._users.get(user)
            return None if b is None else b.summary()

    @property
    def users(self) -> int:
        with self._lock:
            return len(self._users)


def _reason(name: str, z: float, base: Baseline) -> str:
    if name == "login_hour":
        return f"login_hour {z:.1f} std from usual {clock(base.hour.mean)}"
    return f"{name} {z:.1f} std above baseline"


def clock(hour: Optional[float]) -> str:
    """Format an hour of day as HH:MM ("?" when undefined)."""
    if hour is None:
        return "?"
    h, m = divmod(round(hour * 60) % (24 * 60), 60)
    return f"{h:02d}:{m:02d}"
