"""Evaluation of a control set and the framework mapping report.

Controls map to framework requirements (``{"CIS": ["5.2.10"], ...}``);
several controls may map to one requirement. A requirement is:

- ``fail`` if any of its applicable controls fails,
- ``pass`` if at least one applies and all that apply pass,
- ``not_applicable`` if none applies.

A framework's ``percent_compliant`` is passed / (passed + failed)
requirements, so not-applicable requirements neither help nor hurt; with
nothing applicable it is ``None`` rather than a flattering 100.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any, Iterable, Optional

from .rules import FAIL, NA, PASS, SEVERITIES, Control, Result, load_controls


def natural_key(text: str) -> list[Any]:
    """Sort key that puts requirement 5.2.7 before 5.2.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def bundled_controls() -> list[Control]:
    raw = resources.files(__package__).joinpath("controls.json").read_text("utf-8")
    return load_controls(json.loads(raw))


def evaluate_all(controls: Iterable[Control], config: Any) -> list[Result]:
    return [c.evaluate(config) for c in controls]


def percent(passed: int, failed: int) -> Optional[float]:
    applicable = passed + failed
    return None if applicable == 0 else round(100.0 * passed / applicable, 1)


def _counts(statuses: Iterable[str]) -> dict[str, int]:
    out = {PASS: 0, FAIL: 0, NA: 0}
    for s in statuses:
        out[s] += 1
    return {"passed": out[PASS], "failed": out[FAIL], "not_applicable": out[NA]}


def framework_report(results: Iterable[Result]) -> dict[str, dict[str, Any]]:
    """Per framework: requirement statuses, counts and percent compliant."""
    reqs: dict[str, dict[str, list[Result]]] = {}
    for r in results:
        for framework, ids in r.control.frameworks.items():
            for rid in ids:
                reqs.setdefault(framework, {}).setdefault(rid, []).append(r)
    report: dict[str, dict[str, Any]] = {}
    for framework in sorted(reqs):
        statuses: dict[str, str] = {}
        failing: dict[str, list[str]] = {}
        for rid, mapped in sorted(reqs[framework].items(), key=lambda kv: natural_key(kv[0])):
            seen = {r.status for r in mapped}
            statuses[rid] = FAIL if FAIL in seen else PASS if PASS in seen else NA
            if statuses[rid] == FAIL:
                failing[rid] = [r.control.id for r in mapped if r.status == FAIL]
        counts = _counts(statuses.values())
        report[framework] = {
            "requirements": statuses,
            **counts,
            "percent_compliant": percent(counts["passed"], counts["failed"]),
            "failing_controls": failing,
        }
    return report


def summary(results: list[Result]) -> dict[str, Any]:
    """Control-level totals, and failures by severity (most severe first)."""
    counts = _counts(r.status for r in results)
    by_severity = {s: sorted(r.control.id for r in results if r.status == FAIL and r.control.severity == s)
                   for s in reversed(SEVERITIES)}
    return {
        "controls": len(results),
        **counts,
        "percent_compliant": percent(counts["passed"], counts["failed"]),
        "failed_by_severity": {s: ids for s, ids in by_severity.items() if ids},
    }


def build_report(controls: list[Control], config: Any,
                 frameworks: Optional[list[str]] = None) -> dict[str, Any]:
    """The full report; ``frameworks`` restricts it to controls mapped to any of them."""
    if frameworks:
        wanted = set(frameworks)
        controls = [c for c in controls if wanted & set(c.frameworks)]
    results = evaluate_all(controls, config)
    fw = framework_report(results)
    if frameworks:
        fw = {k: v for k, v in fw.items() if k in frameworks}
    return {"summary": summary(results), "frameworks": fw, "results": [r.to_dict() for r in results]}
