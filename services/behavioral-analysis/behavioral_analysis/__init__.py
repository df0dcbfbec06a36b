"""Behavioural analysis: per-user baselines and anomaly scores for login events."""

from .anomaly import Baseline, Event, ScoreResult, Scorer

__all__ = ["Baseline", "Event", "ScoreResult", "Scorer"]
__version__ = "0.1.0"
