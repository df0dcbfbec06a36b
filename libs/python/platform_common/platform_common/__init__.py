"""Shared building blocks for the platform's Python services.

- :mod:`platform_common.config`  typed settings from environment variables
- :mod:`platform_common.logging` one-JSON-object-per-line logging
- :mod:`platform_common.health`  ``/healthz`` and ``/readyz`` for ``http.server``
"""

from .config import ConfigError, Env
from .health import HealthMixin, Readiness
from .logging import get_logger

__all__ = ["ConfigError", "Env", "HealthMixin", "Readiness", "get_logger"]
__version__ = "0.1.0"
