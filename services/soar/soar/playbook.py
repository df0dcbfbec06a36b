"""Playbooks as JSON: parsing, validation, conditions and parameter templates.

A playbook::

    {"name": "phishing-response",
     "steps": [
       {"id": "enrich", "action": "enrich", "params": {"observable": "{{alert.sender_ip}}"},
        "retries": 2, "backoff": 1, "timeout": 10, "on_failure": "continue"},
       {"id": "block", "action": "block", "params": {"observable": "{{alert.sender_ip}}"},
        "when": {"path": "steps.enrich.result.verdict", "op": "eq", "value": "malicious"},
        "on_failure": "escalate"}],
     "branches": {"escalate": [{"id": "page", "action": "notify", "params": {...}}]}}

Steps run in order. ``when`` skips a step unless its condition holds over
``{"alert": ..., "steps": {id: {"status", "result", "error", "attempts"}}}``.
``on_failure`` is ``abort`` (default), ``continue``, or the name of a
branch, whose steps run before the playbook stops. Branch steps may only
``abort`` or ``continue`` (so branches cannot loop), and a condition may
only refer to steps that run before it.

Conditions: ``{"path", "op", "value"}`` with ops ``eq ne in not_in gt gte
lt lte contains exists``, combined with ``{"all": [...]}``, ``{"any":
[...]}`` and ``{"not": {...}}``. A comparison on a missing path is false
(test for absence with ``not`` + ``exists``); ordering ops compare numbers
with numbers and strings with strings only.

Parameter strings may hold ``{{path}}`` templates. A string that is
exactly one template takes the value with its type (a list stays a list);
otherwise values are interpolated as text. A missing path is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

ABORT, CONTINUE = "abort", "continue"
MAX_RETRIES = 10
MAX_SECONDS = 3600.0

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_STEP_KEYS = {"id", "action", "params", "when", "retries", "backoff", "backoff_factor",
              "max_backoff", "timeout", "on_failure"}
_COMPARE = {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists"}
_MISSING = object()


class PlaybookError(ValueError):
    """The playbook document is invalid."""


class TemplateError(ValueError):
    """A parameter template refers to a value that does not exist."""


@dataclass(frozen=True)
class Step:
    id: str
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    when: Optional[Mapping[str, Any]] = None
    retries: int = 0
    backoff: float = 1.0
    backoff_factor: float = 2.0
    max_backoff: float = 60.0
    timeout: float = 30.0
    on_failure: str = ABORT

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return min(self.backoff * self.backoff_factor ** (retry - 1), self.max_backoff)


@dataclass(frozen=True)
class Playbook:
    name: str
    steps: tuple[Step, ...]
    branches: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)

    def actions(self) -> set[str]:
        return {s.action for s in self.all_steps()}

    def all_steps(self) -> Iterable[Step]:
        yield from self.steps
        for steps in self.branches.values():
            yield from steps

    @classmethod
    def from_dict(cls, data: Any) -> "Playbook":
        if not isinstance(data, Mapping):
            raise PlaybookError("playbook must be a JSON object")
        unknown = sorted(set(data) - {"name", "steps", "branches", "description"})
        if unknown:
            raise PlaybookError(f"unknown playbook field(s): {', '.join(unknown)}")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PlaybookError("name must be a non-empty string")
        raw_branches = data.get("branches", {})
        if not isinstance(raw_branches, Mapping):
            raise PlaybookError("branches must be an object of step lists")
        seen: set[str] = set()
        steps = _parse_steps(data.get("steps"), "steps", seen, set(raw_branches), set())
        main_ids = {s.id for s in steps}
        branches = {}
        for bname, raw in raw_branches.items():
            if not _ID.match(str(bname)):
                raise PlaybookError(f"branch name {bname!r} must match {_ID.pattern}")
            branches[bname] = _parse_steps(raw, f"branches.{bname}", seen, set(), main_ids)
        return cls(name.strip(), steps, branches)


def _parse_steps(raw: Any, where: str, seen: set[str], branch_names: set[str],
                 visible: set[str]) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        raise PlaybookError(f"{where} must be a non-empty list")
    visible = set(visible)
    steps = []
    for i, item in enumerate(raw):
        step = _parse_step(item, f"{where}[{i}]", branch_names, visible)
        if step.id in seen:
            raise PlaybookError(f"{where}[{i}]: duplicate step id {step.id!r}")
        seen.add(step.id)
        visible.add(step.id)
        steps.append(step)
    return tuple(steps)


def _parse_step(item: Any, where: str, branch_names: set[str], visible: set[str]) -> Step:
    if not isinstance(item, Mapping):
        raise PlaybookError(f"{where}: a step must be an object")
    unknown = sorted(set(item) - _STEP_KEYS)
    if unknown:
        raise PlaybookError(f"{where}: unknown field(s): {', '.join(unknown)}")
    sid, action = item.get("id"), item.get("action")
    if not isinstance(sid, str) or not _ID.match(sid):
        raise PlaybookError(f"{where}: id must match {_ID.pattern}")
    where = f"{where} ({sid})"
    if not isinstance(action, str) or not action:
        raise PlaybookError(f"{where}: action is required")
    params = item.get("params", {})
    if not isinstance(params, Mapping):
        raise PlaybookError(f"{where}: params must be an object")
    when = item.get("when")
    if when is not None:
        _check_condition(when, f"{where}.when", visible)
    retries = item.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise PlaybookError(f"{where}: retries must be an integer in [0, {MAX_RETRIES}]")
    nums = {}
    for key, default, lo in (("backoff", 1.0, 0.0), ("backoff_factor", 2.0, 1.0),
                             ("max_backoff", 60.0, 0.0), ("timeout", 30.0, None)):
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PlaybookError(f"{where}: {key} must be a number")
        if lo is None and not 0 < value <= MAX_SECONDS:
            raise PlaybookError(f"{where}: {key} must be in (0, {MAX_SECONDS:g}]")
        if lo is not None and not lo <= value <= MAX_SECONDS:
            raise PlaybookError(f"{where}: {key} must be in [{lo:g}, {MAX_SECONDS:g}]")
        nums[key] = float(value)
    on_failure = item.get("on_failure", ABORT)
    if on_failure not in (ABORT, CONTINUE) and on_failure not in branch_names:
        allowed = "abort or continue" if not branch_names else "abort, continue or a branch name"
        raise PlaybookError(f"{where}: on_failure must be {allowed}, not {on_failure!r}")
    return Step(sid, action, dict(params), when, retries, on_failure=on_failure, **nums)


def _check_condition(cond: Any, where: str, visible: set[str]) -> None:
    if not isinstance(cond, Mapping):
        raise PlaybookError(f"{where}: a condition must be an object")
    if set(cond) == {"all"} or set(cond) == {"any"}:
        parts = next(iter(cond.values()))
        if not isinstance(parts, list) or not parts:
            raise PlaybookError(f"{where}: all/any need a non-empty list")
        for i, part in enumerate(parts):
            _check_condition(part, f"{where}[{i}]", visible)
        return
    if set(cond) == {"not"}:
        _check_condition(cond["not"], f"{where}.not", visible)
        return
    op = cond.get("op")
    if op not in _COMPARE:
        raise PlaybookError(f"{where}: op must be one of {', '.join(sorted(_COMPARE))}")
    expected_keys = {"path", "op"} if op == "exists" else {"path", "op", "value"}
    if set(cond) != expected_keys:
        raise PlaybookError(f"{where}: {op} takes exactly {', '.join(sorted(expected_keys))}")
    path = cond["path"]
    if not isinstance(path, str) or not path:
        raise PlaybookError(f"{where}: path must be a non-empty string")
    if op in ("in", "not_in") and not isinstance(cond["value"], list):
        raise PlaybookError(f"{where}: {op} needs a list value")
    parts = path.split(".")
    if parts[0] == "steps":
        if len(parts) < 2 or parts[1] not in visible:
            raise PlaybookError(f"{where}: {path!r} refers to a step that has not run yet")
    elif parts[0] != "alert":
        raise PlaybookError(f"{where}: path must start with alert. or steps.")


def resolve(path: str, context: Mapping[str, Any]) -> Any:
    """The value at a dotted path (list items by index), or the _MISSING sentinel."""
    cur: Any = context
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _ordered(a: Any, b: Any) -> bool:
    return (_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))


def evaluate(cond: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Evaluate a (validated) condition against the run context."""
    if "all" in cond:
        return all(evaluate(c, context) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, context) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], context)
    op, actual = cond["op"], resolve(cond["path"], context)
    if op == "exists":
        return actual is not _MISSING
    if actual is _MISSING:
        return False
    value = cond["value"]
    if op == "eq":
        return actual == value
    if op == "ne":
        return actual != value
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    if op == "contains":
        if isinstance(actual, list):
            return value in actual
        return isinstance(actual, str) and isinstance(value, str) and value in actual
    if not _ordered(actual, value):
        return False
    if op == "gt":
        return actual > value
    if op == "gte":
        return actual >= value
    if op == "lt":
        return actual < value
    return actual <= value  # lte


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Substitute ``{{path}}`` templates in a parameter value, recursively."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), context)
        return _TEMPLATE.sub(lambda m: _text(_lookup(m.group(1), context)), value)
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    return value


def _lookup(path: str, context: Mapping[str, Any]) -> Any:
    found = resolve(path, context)
    if found is _MISSING:
        raise TemplateError(f"template {{{{{path}}}}}: no such value")
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
