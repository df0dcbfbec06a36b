"""SOAR: JSON playbooks run against alerts, with conditions, retries, timeouts and failure branches."""

from .actions import Connectors
from .playbook import Playbook, PlaybookError, Step
from .runner import ActionError, Execution, Runner, SystemClock

__all__ = ["ActionError", "Connectors", "Execution", "Playbook", "PlaybookError", "Runner", "Step",
           "SystemClock"]
__version__ = "0.1.0"
