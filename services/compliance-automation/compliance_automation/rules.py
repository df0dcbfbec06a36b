"""Controls as JSON rules over a configuration document.

A control::

    {"id": "LNX-SSH-01", "title": "SSH root login is disabled", "severity": "high",
     "frameworks": {"CIS": ["5.2.10"], "NIST-800-53": ["AC-6(2)"]},
     "applies_if": {"path": "services[name=sshd].enabled", "equals": true},
     "check": {"path": "ssh.permit_root_login", "in": ["no", "prohibit-password"]}}

A *test* is ``{"path": selector, <op>: operand}`` with exactly one op of
``equals not_equals in not_in regex minimum maximum exists``, plus
optional ``match`` (``all`` values must pass, the default, or ``any``)
and ``if_missing`` (``fail`` by default, ``pass`` or ``not_applicable``)
for when the selector finds nothing. Tests combine with ``{"all": [...]}``,
``{"any": [...]}`` and ``{"not": ...}`` over three values: pass, fail and
not_applicable (n/a is neutral in ``all``/``any`` unless everything is n/a;
``not`` leaves it alone).

Selectors: ``a.b``, ``"key.with.dots"``, ``[0]``, ``[*]`` or ``*`` (every
item or value), ``[key=value]`` (list items whose ``key`` equals
``value``, compared as text). Comparisons are strict about types: ``true``
is not ``1``, the string ``"14"`` is not a number, and a regex must
match the whole string.

A control whose ``applies_if`` does not pass is not_applicable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

PASS, FAIL, NA = "pass", "fail", "not_applicable"
SEVERITIES = ("low", "medium", "high", "critical")
OPS = ("equals", "not_equals", "in", "not_in", "regex", "minimum", "maximum", "exists")
_TEST_KEYS = {"path", "match", "if_missing", *OPS}
_SEGMENT = re.compile(
    r'\.?(?:"(?P<quoted>[^"]+)"|(?P<name>[A-Za-z0-9_\-]+|\*))'
    r"|\[(?:(?P<index>\d+)|(?P<star>\*)|(?P<fkey>[A-Za-z0-9_\-]+)=(?P<fval>[^\]]*))\]"
)


class RuleError(ValueError):
    """A control or selector is malformed."""


# -- selectors ----------------------------------------------------------------

def parse_selector(selector: str) -> list[tuple[str, Any]]:
    """Segments of a selector: ("key", k), ("index", n), ("all", None), ("filter", (k, v))."""
    if not isinstance(selector, str) or not selector:
        raise RuleError("path must be a non-empty string")
    segments: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(selector):
        m = _SEGMENT.match(selector, pos)
        if not m or (pos == 0 and selector.startswith(".")) or (pos > 0 and m.group(0)[0] not in ".["):
            raise RuleError(f"bad path {selector!r} at position {pos}")
        if m.group("quoted") is not None:
            segments.append(("key", m.group("quoted")))
        elif m.group("name") == "*" or m.group("star"):
            segments.append(("all", None))
        elif m.group("name") is not None:
            segments.append(("key", m.group("name")))
        elif m.group("index") is not None:
            segments.append(("index", int(m.group("index"))))
        else:
            segments.append(("filter", (m.group("fkey"), m.group("fval"))))
        pos = m.end()
    return segments


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def select(doc: Any, selector: str) -> list[tuple[str, Any]]:
    """Every ``(concrete path, value)`` the selector reaches in ``doc``."""
    found: list[tuple[str, Any]] = [("", doc)]
    for kind, arg in parse_selector(selector):
        nxt: list[tuple[str, Any]] = []
        for path, value in found:
            nxt.extend(_step(path, value, kind, arg))
        found = nxt
    return found


def _step(path: str, value: Any, kind: str, arg: Any) -> Iterator[tuple[str, Any]]:
    if kind == "key":
        if isinstance(value, Mapping) and arg in value:
            key = f'"{arg}"' if "." in arg else arg
            yield (f"{path}.{key}" if path else key), value[arg]
    elif kind == "index":
        if isinstance(value, list) and arg < len(value):
            yield f"{path}[{arg}]", value[arg]
    elif kind == "all":
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{path}[{i}]", item
        elif isinstance(value, Mapping):
            for k, item in value.items():
                yield (f"{path}.{k}" if path else str(k)), item
    else:  # filter
        fkey, fval = arg
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping) and fkey in item and _text(item[fkey]) == fval:
                    yield f"{path}[{i}]", item


# -- operators ----------------------------------------------------------------

def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def same(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``True`` with ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def apply_op(op: str, actual: Any, operand: Any) -> tuple[bool, str]:
    """``(ok, note)``: note says why a value could not be compared."""
    if op == "equals":
        return same(actual, operand), ""
    if op == "not_equals":
        return not same(actual, operand), ""
    if op == "in":
        return any(same(actual, x) for x in operand), ""
    if op == "not_in":
        return not any(same(actual, x) for x in operand), ""
    if op == "regex":
        if not isinstance(actual, str):
            return False, "not a string"
        return re.fullmatch(operand, actual) is not None, ""
    if not _number(actual):
        return False, "not a number"
    if op == "minimum":
        return actual >= operand, ""
    return actual <= operand, ""  # maximum


# -- conditions -----------------------------------------------------------------

@dataclass
class Outcome:
    status: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


def check_condition(cond: Any, where: str) -> None:
    """Validate a condition, raising :class:`RuleError`."""
    if not isinstance(cond, Mapping):
        raise RuleError(f"{where}: a condition must be an object")
    if set(cond) in ({"all"}, {"any"}):
        parts = next(iter(cond.values()))
        if not isinstance(parts, list) or not parts:
            raise RuleError(f"{where}: all/any need a non-empty list")
        for i, part in enumerate(parts):
            check_condition(part, f"{where}[{i}]")
        return
    if set(cond) == {"not"}:
        check_condition(cond["not"], f"{where}.not")
        return
    unknown = sorted(set(cond) - _TEST_KEYS)
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {', '.join(unknown)}")
    ops = [op for op in OPS if op in cond]
    if len(ops) != 1:
        raise RuleError(f"{where}: a test needs exactly one of {', '.join(OPS)}")
    op, operand = ops[0], cond[ops[0]]
    try:
        parse_selector(cond.get("path"))
    except RuleError as exc:
        raise RuleError(f"{where}: {exc}") from None
    if cond.get("match", "all") not in ("all", "any"):
        raise RuleError(f"{where}: match must be all or any")
    if cond.get("if_missing", FAIL) not in (PASS, FAIL, NA):
        raise RuleError(f"{where}: if_missing must be pass, fail or not_applicable")
    if op in ("in", "not_in") and not isinstance(operand, list):
        raise RuleError(f"{where}: {op} needs a list")
    if op in ("minimum", "maximum") and not _number(operand):
        raise RuleError(f"{where}: {op} needs a number")
    if op == "exists" and not isinstance(operand, bool):
        raise RuleError(f"{where}: exists needs true or false")
    if op == "regex":
        try:
            re.compile(operand)
        except (re.error, TypeError):
            raise RuleError(f"{where}: invalid regex {operand!r}") from None


def evaluate(cond: Mapping[str, Any], doc: Any) -> Outcome:
    """Evaluate a validated condition over ``doc``."""
    if "all" in cond or "any" in cond:
        is_all = "all" in cond
        parts = [evaluate(c, doc) for c in cond["all" if is_all else "any"]]
        evidence = [e for p in parts for e in p.evidence]
        statuses = {p.status for p in parts}
        if statuses == {NA}:
            return Outcome(NA, evidence)
        if is_all:
            return Outcome(FAIL if FAIL in statuses else PASS, evidence)
        return Outcome(PASS if PASS in statuses else FAIL, evidence)
    if "not" in cond:
        inner = evaluate(cond["not"], doc)
        flipped = {PASS: FAIL, FAIL: PASS, NA: NA}[inner.status]
        return Outcome(flipped, inner.evidence)
    return _test(cond, doc)


def _expected(op: str, operand: Any) -> str:
    return f"{op} {json.dumps(operand)}"


def _test(cond: Mapping[str, Any], doc: Any) -> Outcome:
    op = next(op for op in OPS if op in cond)
    operand = cond[op]
    selector = cond["path"]
    values = select(doc, selector)
    if op == "exists":
        ok = bool(values) == operand
        return Outcome(PASS if ok else FAIL, [{"path": selector, "expected": _expected(op, operand),
                                               "actual": f"{len(values)} value(s)", "ok": ok}])
    if not values:
        status = cond.get("if_missing", FAIL)
        return Outcome(status, [{"path": selector, "expected": _expected(op, operand), "actual": None,
                                 "ok": status == PASS, "note": "no value at path"}])
    evidence = []
    for path, actual in values:
        ok, note = apply_op(op, actual, operand)
        item: dict[str, Any] = {"path": path, "expected": _expected(op, operand), "actual": actual, "ok": ok}
        if note:
            item["note"] = note
        evidence.append(item)
    oks = [e["ok"] for e in evidence]
    passed = any(oks) if cond.get("match", "all") == "any" else all(oks)
    return Outcome(PASS if passed else FAIL, evidence)


# -- controls -----------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    id: str
    title: str
    severity: str
    check: Mapping[str, Any]
    frameworks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    applies_if: Optional[Mapping[str, Any]] = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "control") -> "Control":
        if not isinstance(data, Mapping):
            raise RuleError(f"{where}: must be an object")
        unknown = sorted(set(data) - {"id", "title", "severity", "check", "frameworks", "applies_if", "rationale"})
        if unknown:
            raise RuleError(f"{where}: unknown field(s) {', '.join(unknown)}")
        cid = data.get("id")
        if not isinstance(cid, str) or not cid.strip():
            raise RuleError(f"{where}: id is required")
        where = f"{where} ({cid})"
        title = data.get("title", "")
        if not isinstance(title, str):
            raise RuleError(f"{where}: title must be a string")
        severity = data.get("severity", "medium")
        if severity not in SEVERITIES:
            raise RuleError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        if "check" not in data:
            raise RuleError(f"{where}: check is required")
        check_condition(data["check"], f"{where}.check")
        if data.get("applies_if") is not None:
            check_condition(data["applies_if"], f"{where}.applies_if")
        frameworks = data.get("frameworks", {})
        if not isinstance(frameworks, Mapping) or not all(
                isinstance(reqs, list) and reqs and all(isinstance(r, str) and r for r in reqs)
                for reqs in frameworks.values()):
            raise RuleError(f"{where}: frameworks must map names to non-empty lists of requirement ids")
        return cls(cid, title, severity, data["check"], {k: tuple(v) for k, v in frameworks.items()},
                   data.get("applies_if"))

    def evaluate(self, doc: Any) -> "Result":
        if self.applies_if is not None:
            gate = evaluate(self.applies_if, doc)
            if gate.status != PASS:
                return Result(self, NA, gate.evidence, "applies_if not met")
        outcome = evaluate(self.check, doc)
        return Result(self, outcome.status, outcome.evidence)


@dataclass
class Result:
    control: Control
    status: str
    evidence: list[dict[str, Any]]
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.control.id, "title": self.control.title, "severity": self.control.severity,
               "status": self.status, "evidence": self.evidence,
               "frameworks": {k: list(v) for k, v in self.control.frameworks.items()}}
        if self.reason:
            out["reason"] = self.reason
        return out


def load_controls(data: Any) -> list[Control]:
    """Controls from a JSON list (or ``{"controls": [...]}``); ids must be unique."""
    if isinstance(data, Mapping) and "controls" in data:
        data = data["controls"]
    if not isinstance(data, list) or not data:
        raise RuleError("controls must be a non-empty list")
    controls = [Control.from_dict(item, f"controls[{i}]") for i, item in enumerate(data)]
    seen: set[str] = set()
    for c in controls:
        if c.id in seen:
            raise RuleError(f"duplicate control id {c.id!r}")
        seen.add(c.id)
    return controls
