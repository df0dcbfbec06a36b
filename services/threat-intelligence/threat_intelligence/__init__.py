"""Threat intelligence: IOC feeds parsed, normalised and de-duplicated, and a matcher for events."""

from .feeds import FeedResult, parse_csv, parse_stix
from .indicators import Indicator, normalise
from .matcher import IndicatorStore, Match

__all__ = ["FeedResult", "Indicator", "IndicatorStore", "Match", "normalise", "parse_csv", "parse_stix"]
__version__ = "0.1.0"
