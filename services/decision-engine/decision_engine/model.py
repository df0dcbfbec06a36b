"""The decision model: a transparent weighted score plus rule overrides.

Four signals, each normalised to 0..1, are combined as a weighted mean::

    risk = sum(weight_i * value_i) / sum(weight_i)

so each factor's *contribution* is ``weight_i * value_i / sum(weight_i)`` and
the contributions add up to the risk. The risk maps to a decision by two
thresholds (``allow`` < step_up <= ``step_up`` < block <= ``block``).

Rule overrides then encode what a weighted mean cannot: a high-confidence
match on known command-and-control infrastructure blocks whatever the other
signals say. Overrides only ever escalate a decision, never relax it, and
every one that fired is reported with its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

ALLOW, STEP_UP, BLOCK = "allow", "step_up", "block"
_SEVERITY = {ALLOW: 0, STEP_UP: 1, BLOCK: 2}

FACTORS = ("anomaly", "threat_intel", "asset_criticality", "user_risk")

CRITICALITY = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
MALICIOUS_CATEGORIES = frozenset({"c2", "malware", "ransomware", "botnet"})

# Used, and reported as defaulted, when a signal is absent.
DEFAULTS = {"anomaly": 0.0, "threat_intel": 0.0, "asset_criticality": CRITICALITY["medium"], "user_risk": 0.0}

_SIGNAL_KEYS = {"anomaly_score", "threat_intel", "asset_criticality", "user_risk"}
_INTEL_KEYS = {"match", "confidence", "category"}


def _unit(name: str, value: Any) -> float:
    """A number in [0, 1]; bools are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be between 0 and 1")
    return value


@dataclass(frozen=True)
class ThreatIntel:
    """A threat-intelligence lookup result for the request's indicators."""

    match: bool
    confidence: float = 1.0
    category: Optional[str] = None

    @property
    def value(self) -> float:
        return self.confidence if self.match else 0.0

    @classmethod
    def from_any(cls, data: Any) -> "ThreatIntel":
        if isinstance(data, bool):
            return cls(match=data)
        if not isinstance(data, dict):
            raise ValueError("threat_intel must be a boolean or an object")
        unknown = set(data) - _INTEL_KEYS
        if unknown:
            raise ValueError(f"threat_intel: unknown field {sorted(unknown)[0]!r}")
        match = data.get("match")
        if not isinstance(match, bool):
            raise ValueError("threat_intel.match must be a boolean")
        confidence = _unit("threat_intel.confidence", data.get("confidence", 1.0))
        category = data.get("category")
        if category is not None and not isinstance(category, str):
            raise ValueError("threat_intel.category must be a string")
        return cls(match=match, confidence=confidence, category=category.strip().lower() if category else None)


@dataclass(frozen=True)
class Signals:
    """The inputs to one decision. ``None`` means the signal is unavailable."""

    anomaly_score: Optional[float] = None
    threat_intel: Optional[ThreatIntel] = None
    asset_criticality: Optional[float] = None
    user_risk: Optional[float] = None

    @classmethod
    def from_dict(cls, data: Any) -> "Signals":
        """Validate a JSON object. asset_criticality is a level name or 0..1."""
        if not isinstance(data, dict):
            raise ValueError("signals must be a JSON object")
        unknown = set(data) - _SIGNAL_KEYS
        if unknown:
            raise ValueError(f"unknown signal {sorted(unknown)[0]!r}")
        present = {k: v for k, v in data.items() if v is not None}
        if not present:
            raise ValueError("at least one signal is required")
        crit = present.get("asset_criticality")
        if isinstance(crit, str):
            if crit.strip().lower() not in CRITICALITY:
                raise ValueError(f"asset_criticality must be one of {', '.join(CRITICALITY)} or a number 0-1")
            crit = CRITICALITY[crit.strip().lower()]
        elif crit is not None:
            crit = _unit("asset_criticality", crit)
        return cls(
            anomaly_score=_unit("anomaly_score", present["anomaly_score"]) if "anomaly_score" in present else None,
            threat_intel=ThreatIntel.from_any(present["threat_intel"]) if "threat_intel" in present else None,
            asset_criticality=crit,
            user_risk=_unit("user_risk", present["user_risk"]) if "user_risk" in present else None,
        )

    def values(self) -> dict[str, Optional[float]]:
        """Each factor's normalised value, None where the signal is absent."""
        return {
            "anomaly": self.anomaly_score,
            "threat_intel": None if self.threat_intel is None else self.threat_intel.value,
            "asset_criticality": self.asset_criticality,
            "user_risk": self.user_risk,
        }


@dataclass(frozen=True)
class Weights:
    anomaly: float = 0.35
    threat_intel: float = 0.30
    asset_criticality: float = 0.15
    user_risk: float = 0.20

    def __post_init__(self) -> None:
        for name in FACTORS:
            w = getattr(self, name)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"weight {name} must be a finite number >= 0")
        if self.total() <= 0:
            raise ValueError("at least one weight must be positive")

    def total(self) -> float:
        return sum(getattr(self, name) for name in FACTORS)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FACTORS}


@dataclass(frozen=True)
class Thresholds:
    step_up: float = 0.4
    block: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 < self.step_up < self.block <= 1.0:
            raise ValueError("thresholds must satisfy 0 < step_up < block <= 1")

    def decide(self, risk: float) -> str:
        # round away float noise so 0.7 computed as 0.6999999999 still blocks
        risk = round(risk, 9)
        if risk >= self.block:
            return BLOCK
        if risk >= self.step_up:
            return STEP_UP
        return ALLOW


@dataclass(frozen=True)
class Override:
    """A rule that sets a minimum decision when its condition holds."""

    name: str
    minimum: str
    reason: str
    applies: Callable[[Signals], bool]


def _intel(s: Signals) -> ThreatIntel:
    return s.threat_intel or ThreatIntel(match=False)


OVERRIDES: tuple[Override, ...] = (
    Override("known_malicious_infrastructure", BLOCK,
             "threat intel matched C2/malware infrastructure with confidence >= 0.9",
             lambda s: _intel(s).match and _intel(s).confidence >= 0.9
             and _intel(s).category in MALICIOUS_CATEGORIES),
    Override("critical_asset_anomaly", BLOCK,
             "highly anomalous (>= 0.8) access to a critical asset",
             lambda s: (s.asset_criticality or 0) >= 1.0 and (s.anomaly_score or 0) >= 0.8),
    Override("high_risk_user", STEP_UP,
             "user risk >= 0.9 always requires step-up authentication",
             lambda s: (s.user_risk or 0) >= 0.9),
    Override("threat_intel_match", STEP_UP,
             "any threat-intel match with confidence >= 0.5 requires step-up authentication",
             lambda s: _intel(s).match and _intel(s).confidence >= 0.5),
)


@dataclass(frozen=True)
class Decision:
    decision: str
    model_decision: str
    risk: float
    factors: list[dict[str, Any]]
    overrides: list[dict[str, str]]
    explanation: str

    def to_dict(self, thresholds: Thresholds) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "model_decision": self.model_decision,
            "risk": round(self.risk, 4),
            "thresholds": {"step_up": thresholds.step_up, "block": thresholds.block},
            "factors": self.factors,
            "overrides": self.overrides,
            "explanation": self.explanation,
        }


class DecisionModel:
    """Combines signals into allow / step_up / block with an explanation."""

    def __init__(self, weights: Optional[Weights] = None, thresholds: Optional[Thresholds] = None,
                 overrides: tuple[Override, ...] = OVERRIDES):
        self.weights = weights or Weights()
        self.thresholds = thresholds or Thresholds()
        self.overrides = overrides

    def decide(self, signals: Signals) -> Decision:
        total = self.weights.total()
        factors = []
        risk = 0.0
        for name, value in signals.values().items():
            defaulted = value is None
            v = DEFAULTS[name] if defaulted else value
            w = getattr(self.weights, name)
            contribution = w * v / total
            risk += contribution
            factors.append({"name": name, "value": v, "weight": w, "contribution": contribution,
                            "defaulted": defaulted})
        for f in factors:
            f["share"] = round(f["contribution"] / risk, 4) if risk > 0 else 0.0
            f["contribution"] = round(f["contribution"], 4)
        factors.sort(key=lambda f: (-f["contribution"], FACTORS.index(f["name"])))

        model_decision = self.thresholds.decide(risk)
        decision = model_decision
        fired = []
        for rule in self.overrides:
            if rule.applies(signals):
                escalates = _SEVERITY[rule.minimum] > _SEVERITY[decision]
                fired.append({"rule": rule.name, "minimum": rule.minimum, "reason": rule.reason,
                              "effect": "escalated" if escalates else "no change"})
                if escalates:
                    decision = rule.minimum
        return Decision(decision, model_decision, risk, factors, fired,
                        self._explain(decision, model_decision, risk, factors, fired))

    def _explain(self, decision: str, model_decision: str, risk: float,
                 factors: list[dict[str, Any]], fired: list[dict[str, str]]) -> str:
        t = self.thresholds
        if model_decision == BLOCK:
            why = f"risk {risk:.2f} >= block threshold {t.block:.2f}"
        elif model_decision == STEP_UP:
            why = f"risk {risk:.2f} >= step-up threshold {t.step_up:.2f}"
        else:
            why = f"risk {risk:.2f} < step-up threshold {t.step_up:.2f}"
        parts = [f"{decision}: {why}"]
        top = [f for f in factors if f["contribution"] > 0][:2]
        if top:
            parts.append("driven by " + " and ".join(f"{f['name']} ({f['share']:.0%})" for f in top))
        escalations = [f["rule"] for f in fired if f["effect"] == "escalated"]
        if escalations:
            parts.append(f"escalated from {model_decision} by {', '.join(escalations)}")
        defaulted = [f["name"] for f in factors if f["defaulted"]]
        if defaulted:
            parts.append(f"defaults used for {', '.join(sorted(defaulted, key=FACTORS.index))}")
        return "; ".join(parts)

    def describe(self) -> dict[str, Any]:
        """The model's configuration, for GET /v1/model."""
        return {
            "weights": self.weights.as_dict(),
            "thresholds": {"step_up": self.thresholds.step_up, "block": self.thresholds.block},
            "defaults": dict(DEFAULTS),
            "overrides": [{"rule": o.name, "minimum": o.minimum, "reason": o.reason} for o in self.overrides],
        }


def weights_from_env(get_float: Callable[[str, float], float]) -> Weights:
    """Read WEIGHT_<FACTOR> settings, defaulting to the built-in weights."""
    base = Weights()
    return Weights(**{name: get_float(f"WEIGHT_{name.upper()}", getattr(base, name)) for name in FACTORS})

