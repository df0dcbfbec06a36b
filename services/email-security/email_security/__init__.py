"""Email security: header analysis (authentication results, Received chain, lookalike domains) and a verdict."""

from .analyzer import Settings, analyse
from .lookalike import Lookalike, edit_distance, find_lookalike, skeleton

__all__ = ["Lookalike", "Settings", "analyse", "edit_distance", "find_lookalike", "skeleton"]
__version__ = "0.1.0"
