"""Compliance automation: policy-as-code controls over configuration documents, and framework reports."""

from .report import build_report, bundled_controls, framework_report
from .rules import Control, Result, RuleError, load_controls, select

__all__ = ["Control", "Result", "RuleError", "build_report", "bundled_controls", "framework_report",
           "load_controls", "select"]
__version__ = "0.1.0"
