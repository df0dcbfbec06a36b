import json
import os
import threading

import pytest

from soar.actions import Connectors
from soar.playbook import Playbook
from soar.runner import ActionError, Runner, SystemClock

HERE = os.path.dirname(os.path.abspath(__file__))


class FakeClock:
    """Virtual time: sleeps are recorded and advance the clock instantly."""

    def __init__(self):
        self.t = 100.0
        self.sleeps = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds

    def wait(self, event, timeout):
        return event.wait(5)  # handlers here finish at once in real time

    def advance(self, seconds):
        self.t += seconds


class Flaky:
    """Fails the first `failures` calls, then returns `result`."""

    def __init__(self, failures, result="ok", exc=None):
        self.failures = failures
        self.result = result
        self.exc = exc or ActionError("connector unavailable")
        self.calls = []

    def __call__(self, params, ctx):
        self.calls.append(params)
        if len(self.calls) <= self.failures:
            raise self.exc
        return self.result


def ok(result=None):
    return lambda params, ctx: result if result is not None else {"params": dict(params)}


def pb(steps, branches=None):
    return Playbook.from_dict({"name": "t", "steps": steps, "branches": branches or {}})


def events(ex, step=None):
    return [e["event"] for e in ex.log if step is None or e.get("step") == step]


@pytest.fixture
def clock():
    return FakeClock()


def test_steps_run_in_order_with_rendered_params(clock):
    seen = []

    def record(name):
        def handler(params, ctx):
            seen.append((name, dict(params), sorted(ctx["steps"])))
            return {"from": name}
        return handler

    runner = Runner({"a": record("a"), "b": record("b")}, clock)
    ex = runner.run(pb([
        {"id": "one", "action": "a", "params": {"ip": "{{alert.ip}}"}},
        {"id": "two", "action": "b", "params": {"prev": "{{steps.one.result.from}}"}},
    ]), {"ip": "1.2.3.4"})
    assert ex.status == "succeeded"
    assert seen == [("a", {"ip": "1.2.3.4"}, []), ("b", {"prev": "a"}, ["one"])]
    assert [(s.id, s.status, s.attempts) for s in ex.steps] == [("one", "succeeded", 1), ("two", "succeeded", 1)]
    assert events(ex) == ["run_started", "step_started", "step_succeeded", "step_started",
                          "step_succeeded", "run_finished"]


def test_handler_gets_alert_and_deadline(clock):
    got = {}
    runner = Runner({"a": lambda p, ctx: got.update(ctx)}, clock)
    runner.run(pb([{"id": "s", "action": "a", "timeout": 7}]), {"id": 9})
    assert got["alert"] == {"id": 9}
    assert got["deadline"] == 107.0


def test_retries_back_off_exponentially(clock):
    flaky = Flaky(failures=3)
    runner = Runner({"a": flaky}, clock)
    ex = runner.run(pb([{"id": "s", "action": "a", "retries": 3, "backoff": 1.5}]), {})
    assert ex.status == "succeeded"
    assert clock.sleeps == [1.5, 3.0, 6.0]
    s = ex.step("s")
    assert (s.status, s.attempts, s.result, s.error) == ("succeeded", 4, "ok", None)
    assert events(ex, "s") == ["step_started"] + ["attempt_failed", "retry_scheduled"] * 3 + ["step_succeeded"]
    retries = [e for e in ex.log if e["event"] == "retry_scheduled"]
    assert [e["delay"] for e in retries] == [1.5, 3.0, 6.0]
    assert [e["t"] for e in retries] == [0.0, 1.5, 4.5]  # the log is timed by the clock


def test_retries_exhausted_fails_the_step(clock):
    flaky = Flaky(failures=5)
    runner = Runner({"a": flaky, "b": ok()}, clock)
    ex = runner.run(pb([{"id": "s", "action": "a", "retries": 2, "backoff": 1},
                        {"id": "after", "action": "b"}]), {})
    assert len(flaky.calls) == 3  # one try + two retries, not more
    assert clock.sleeps == [1.0, 2.0]
    assert ex.status == "failed"
    assert ex.step("s").error == "connector unavailable"
    assert ex.step("after") is None  # abort is the default
    assert ex.log[-1] == {"t": 3.0, "event": "run_finished", "status": "failed"}


def test_no_retries_means_one_attempt(clock):
    flaky = Flaky(failures=1)
    ex = Runner({"a": flaky}, clock).run(pb([{"id": "s", "action": "a"}]), {})
    assert len(flaky.calls) == 1 and ex.status == "failed" and clock.sleeps == []


def test_non_retryable_errors_fail_at_once(clock):
    flaky = Flaky(failures=5, exc=ActionError("bad request", retryable=False))
    ex = Runner({"a": flaky}, clock).run(pb([{"id": "s", "action": "a", "retries": 4}]), {})
    assert len(flaky.calls) == 1 and clock.sleeps == []
    assert ex.step("s").error == "bad request"


def test_template_errors_are_not_retried(clock):
    flaky = Flaky(failures=0)
    ex = Runner({"a": flaky}, clock).run(
        pb([{"id": "s", "action": "a", "retries": 3, "params": {"x": "{{alert.nope}}"}}]), {})
    assert flaky.calls == [] and clock.sleeps == []
    assert "no such value" in ex.step("s").error


def test_unexpected_exceptions_are_retried_and_described(clock):
    flaky = Flaky(failures=1, exc=KeyError("field"))
    ex = Runner({"a": flaky}, clock).run(pb([{"id": "s", "action": "a", "retries": 1}]), {})
    assert ex.status == "succeeded" and len(flaky.calls) == 2
    failed = [e for e in ex.log if e["event"] == "attempt_failed"]
    assert failed[0]["error"] == "KeyError: 'field'"


def test_step_overrunning_its_timeout_on_the_clock_times_out(clock):
    calls = []

    def slow(params, ctx):
        calls.append(1)
        clock.advance(11 if len(calls) == 1 else 10)  # first overruns, second just fits
        return "late"

    ex = Runner({"a": slow}, clock).run(pb([{"id": "s", "action": "a", "timeout": 10, "retries": 1}]), {})
    assert ex.status == "succeeded" and ex.step("s").attempts == 2
    failed = [e for e in ex.log if e["event"] == "attempt_failed"]
    assert failed[0]["error"] == "timed out after 10s"


def test_real_timeout_abandons_a_hung_handler():
    release = threading.Event()

    def hung(params, ctx):
        release.wait(5)
        return "too late"

    try:
        ex = Runner({"a": hung}, SystemClock()).run(pb([{"id": "s", "action": "a", "timeout": 0.05}]), {})
    finally:
        release.set()
    assert ex.status == "failed"
    assert ex.step("s").error == "timed out after 0.05s"
    assert ex.step("s").result is None


def test_condition_false_skips_and_later_steps_see_it(clock):
    runner = Runner({"enrich": ok({"verdict": "benign"}), "block": ok(), "note": ok()}, clock)
    ex = runner.run(pb([
        {"id": "enrich", "action": "enrich"},
        {"id": "block", "action": "block",
         "when": {"path": "steps.enrich.result.verdict", "op": "eq", "value": "malicious"}},
        {"id": "note", "action": "note", "when": {"path": "steps.block.status", "op": "eq", "value": "skipped"}},
    ]), {})
    assert [(s.id, s.status) for s in ex.steps] == [("enrich", "succeeded"), ("block", "skipped"),
                                                    ("note", "succeeded")]
    assert ex.status == "succeeded"
    assert {"t": 0.0, "event": "step_skipped", "step": "block", "reason": "condition false"} in ex.log


def test_on_failure_continue(clock):
    runner = Runner({"bad": Flaky(9), "good": ok()}, clock)
    ex = runner.run(pb([
        {"id": "a", "action": "bad", "on_failure": "continue"},
        {"id": "b", "action": "good", "when": {"path": "steps.a.status", "op": "eq", "value": "failed"}},
    ]), {})
    assert ex.status == "completed_with_errors"
    assert [s.status for s in ex.steps] == ["failed", "succeeded"]


def test_on_failure_branch_runs_then_stops(clock):
    notified = []
    runner = Runner({"bad": Flaky(9), "good": ok(), "notify": lambda p, c: notified.append(dict(p))}, clock)
    ex = runner.run(pb(
        [{"id": "block", "action": "bad", "on_failure": "escalate"}, {"id": "never", "action": "good"}],
        {"escalate": [{"id": "page", "action": "notify", "params": {"why": "{{steps.block.error}}"}},
                      {"id": "after-page", "action": "good"}]},
    ), {})
    assert ex.status == "failed"
    assert [(s.id, s.status, s.branch) for s in ex.steps] == [
        ("block", "failed", None), ("page", "succeeded", "escalate"), ("after-page", "succeeded", "escalate")]
    assert notified == [{"why": "connector unavailable"}]
    assert {"t": 0.0, "event": "branch_started", "step": "block", "branch": "escalate"} in ex.log


def test_failing_branch_step_aborts_the_branch_unless_continue(clock):
    handlers = {"bad": Flaky(99), "good": ok()}
    ex = Runner(handlers, clock).run(pb(
        [{"id": "s", "action": "bad", "on_failure": "br"}],
        {"br": [{"id": "b1", "action": "bad"}, {"id": "b2", "action": "good"}]}), {})
    assert [s.id for s in ex.steps] == ["s", "b1"]
    ex = Runner(handlers, clock).run(pb(
        [{"id": "s", "action": "bad", "on_failure": "br"}],
        {"br": [{"id": "b1", "action": "bad", "on_failure": "continue"}, {"id": "b2", "action": "good"}]}), {})
    assert [s.id for s in ex.steps] == ["s", "b1", "b2"]


def test_unknown_action_is_rejected_before_running(clock):
    called = []
    runner = Runner({"a": lambda p, c: called.append(1)}, clock)
    with pytest.raises(ValueError, match="no handler for action.*: x"):
        runner.run(pb([{"id": "s", "action": "a"}, {"id": "t", "action": "x"}]), {})
    assert called == []


def test_execution_to_dict_is_json(clock):
    ex = Runner({"a": ok({"n": 1})}, clock).run(pb([{"id": "s", "action": "a"}]), {})
    d = json.loads(json.dumps(ex.to_dict()))
    assert d["playbook"] == "t" and d["status"] == "succeeded" and d["duration"] == 0.0
    assert d["steps"] == [{"id": "s", "action": "a", "branch": None, "status": "succeeded",
                           "result": {"n": 1}, "error": None, "attempts": 1}]


# -- the bundled example playbook, with the built-in connectors ---------------

@pytest.fixture
def phishing():
    with open(os.path.join(HERE, "..", "playbooks", "phishing-response.json")) as fh:
        return Playbook.from_dict(json.load(fh))


def test_example_playbook_blocks_malicious_sender(phishing, clock):
    conn = Connectors(known_bad=["185.220.101.4"])
    ex = Runner(conn.handlers(), clock).run(phishing, {"sender_ip": "185.220.101.4", "recipient": "bob"})
    assert ex.status == "succeeded"
    assert conn.blocklist == {"185.220.101.4": "mail-gateway"}
    assert conn.tickets["SEC-1001"] == {"title": "Phishing from 185.220.101.4 to bob", "severity": "high"}


def test_example_playbook_skips_block_for_unknown_sender(phishing, clock):
    conn = Connectors()
    ex = Runner(conn.handlers(), clock).run(phishing, {"sender_ip": "203.0.113.9", "recipient": "bob"})
    assert [s.status for s in ex.steps] == ["succeeded", "skipped", "succeeded"]
    assert conn.blocklist == {}


def test_example_playbook_escalates_when_blocking_fails(phishing, clock):
    conn = Connectors(known_bad=["185.220.101.4"])
    handlers = conn.handlers()
    handlers["block"] = Flaky(99, exc=ActionError("gateway API returned 503"))
    ex = Runner(handlers, clock).run(phishing, {"sender_ip": "185.220.101.4", "recipient": "bob"})
    assert ex.status == "failed"
    assert clock.sleeps == [1.0]  # block retries once
    assert [s.id for s in ex.steps] == ["enrich", "block", "page", "escalation-ticket"]
    assert conn.outbox == [{"channel": "pager",
                            "message": "Could not block 185.220.101.4: gateway API returned 503"}]
    assert conn.tickets["SEC-1001"]["severity"] == "critical"
