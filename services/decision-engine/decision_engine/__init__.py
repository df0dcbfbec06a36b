"""Decision engine: explainable allow / step-up / block decisions from risk signals."""

from .model import ALLOW, BLOCK, STEP_UP, Decision, DecisionModel, Signals, ThreatIntel, Thresholds, Weights

__all__ = ["ALLOW", "BLOCK", "STEP_UP", "Decision", "DecisionModel", "Signals", "ThreatIntel", "Thresholds", "Weights"]
__version__ = "0.1.0"
