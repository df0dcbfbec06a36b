"""The playbook runner: injectable action handlers and clock, an execution log.

A handler is ``handler(params, ctx) -> result`` where ``params`` are the
step's rendered parameters and ``ctx`` holds ``alert``, ``steps`` (the
results so far) and ``deadline`` (clock time by which the step must end).

Each attempt runs in its own thread and is given ``timeout`` seconds,
measured by the clock: an attempt that has not finished in time, or that
finished but overran the timeout, is a timeout. (Python cannot kill a
thread; a handler that overruns is abandoned and its result discarded, so
handlers doing I/O should honour ``ctx["deadline"]``.)

Failed attempts are retried ``retries`` times, sleeping ``step.delay(n)``
before retry ``n`` (exponential backoff, capped). An :class:`ActionError`
with ``retryable=False`` and template errors fail at once. When a step
finally fails, its ``on_failure`` decides: ``abort`` stops the run,
``continue`` goes on, a branch name runs that branch and then stops.

Run status: ``succeeded`` (no failed step), ``completed_with_errors``
(failures that were allowed to continue), ``failed`` (aborted, or a
failure branch ran).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol

from .playbook import ABORT, CONTINUE, Playbook, Step, TemplateError, evaluate, render

Handler = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]

SUCCEEDED, FAILED, SKIPPED = "succeeded", "failed", "skipped"
COMPLETED_WITH_ERRORS = "completed_with_errors"


class ActionError(Exception):
    """A handler's failure; ``retryable=False`` means retrying cannot help."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class StepTimeout(Exception):
    pass


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    def wait(self, event: threading.Event, timeout: float) -> bool: ...


class SystemClock:
    """Monotonic wall time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(timeout)


@dataclass
class StepRecord:
    id: str
    action: str
    status: str
    attempts: int = 0
    result: Any = None
    error: Optional[str] = None
    branch: Optional[str] = None

    def view(self) -> dict[str, Any]:
        """What later conditions and templates see as ``steps.<id>``."""
        return {"status": self.status, "result": self.result, "error": self.error, "attempts": self.attempts}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "branch": self.branch, **self.view()}


@dataclass
class Execution:
    playbook: str
    status: str = SUCCEEDED
    steps: list[StepRecord] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0

    def step(self, sid: str) -> Optional[StepRecord]:
        return next((s for s in self.steps if s.id == sid), None)

    def to_dict(self) -> dict[str, Any]:
        return {"playbook": self.playbook, "status": self.status, "duration": round(self.duration, 3),
                "steps": [s.to_dict() for s in self.steps], "log": [dict(e) for e in self.log]}


class Runner:
    def __init__(self, handlers: Mapping[str, Handler], clock: Optional[Clock] = None) -> None:
        self.handlers = dict(handlers)
        self.clock = clock or SystemClock()

    def run(self, playbook: Playbook, alert: Mapping[str, Any]) -> Execution:
        missing = sorted(playbook.actions() - set(self.handlers))
        if missing:
            raise ValueError(f"no handler for action(s): {', '.join(missing)}")
        start = self.clock.now()
        ex = Execution(playbook.name)
        ctx: dict[str, Any] = {"alert": dict(alert), "steps": {}}

        def log(event: str, step: Optional[str] = None, **detail: Any) -> None:
            entry: dict[str, Any] = {"t": round(self.clock.now() - start, 3), "event": event}
            if step is not None:
                entry["step"] = step
            entry.update(detail)
            ex.log.append(entry)

        log("run_started", playbook=playbook.name)
        for step in playbook.steps:
            record = self._run_step(step, ctx, ex, log, None)
            if record.status != FAILED:
                continue
            if step.on_failure == CONTINUE:
                ex.status = COMPLETED_WITH_ERRORS
                continue
            ex.status = FAILED
            if step.on_failure != ABORT:
                log("branch_started", step.id, branch=step.on_failure)
                for bstep in playbook.branches[step.on_failure]:
                    brecord = self._run_step(bstep, ctx, ex, log, step.on_failure)
                    if brecord.status == FAILED and bstep.on_failure == ABORT:
                        break
            break
        ex.duration = self.clock.now() - start
        log("run_finished", status=ex.status)
        return ex

    def _run_step(self, step: Step, ctx: dict[str, Any], ex: Execution,
                  log: Callable[..., None], branch: Optional[str]) -> StepRecord:
        record = StepRecord(step.id, step.action, SKIPPED, branch=branch)
        ex.steps.append(record)
        if step.when is not None and not evaluate(step.when, ctx):
            log("step_skipped", step.id, reason="condition false")
            ctx["steps"][step.id] = record.view()
            return record
        log("step_started", step.id, action=step.action)
        while True:
            record.attempts += 1
            try:
                params = render(step.params, ctx)
                record.result = self._attempt(step, params, ctx)
            except Exception as exc:  # noqa: BLE001 - a handler may raise anything
                record.error = _describe(exc)
                retryable = not isinstance(exc, TemplateError) and getattr(exc, "retryable", True)
                log("attempt_failed", step.id, attempt=record.attempts, error=record.error)
                if retryable and record.attempts <= step.retries:
                    delay = step.delay(record.attempts)
                    log("retry_scheduled", step.id, delay=delay)
                    self.clock.sleep(delay)
                    continue
                record.status = FAILED
                log("step_failed", step.id, attempts=record.attempts, error=record.error)
                break
            record.status, record.error = SUCCEEDED, None
            log("step_succeeded", step.id, attempts=record.attempts)
            break
        ctx["steps"][step.id] = record.view()
        return record

    def _attempt(self, step: Step, params: Any, ctx: Mapping[str, Any]) -> Any:
        handler = self.handlers[step.action]
        started = self.clock.now()
        view = {"alert": ctx["alert"], "steps": dict(ctx["steps"]), "deadline": started + step.timeout}
        box: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                box["result"] = handler(params, view)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the runner's thread
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=target, name=f"soar-{step.id}", daemon=True).start()
        if not self.clock.wait(done, step.timeout) or self.clock.now() - started > step.timeout:
            raise StepTimeout(f"timed out after {step.timeout:g}s")
        if "error" in box:
            raise box["error"]
        return box.get("result")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (ActionError, StepTimeout, TemplateError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
