import io
import json
import logging

import pytest

from platform_common.logging import JsonFormatter, get_logger, parse_level


def records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("name,level", [
    (None, logging.INFO), ("", logging.INFO), ("DEBUG", logging.DEBUG),
    (" warn ", logging.WARNING), ("warning", logging.WARNING), ("error", logging.ERROR),
])
def test_parse_level(name, level):
    assert parse_level(name) == level


def test_parse_level_rejects_unknown():
    with pytest.raises(ValueError):
        parse_level("loud")


def test_record_shape_and_fields():
    out = io.StringIO()
    log = get_logger("svc-shape", level="debug", stream=out)
    log.bind(request_id="r1").info("scored", user="alice", score=4.5, msg="shadowed")
    (rec,) = records(out)
    assert rec["msg"] == "scored"
    assert rec["level"] == "info"
    assert rec["service"] == "svc-shape"
    assert rec["request_id"] == "r1"
    assert rec["user"] == "alice" and rec["score"] == 4.5
    assert rec["field.msg"] == "shadowed"
    assert rec["ts"].endswith("Z")


def test_level_filtering_and_names():
    out = io.StringIO()
    log = get_logger("svc-levels", level="warn", stream=out)
    log.debug("d")
    log.info("i")
    log.warn("w")
    log.error("e")
    assert [r["level"] for r in records(out)] == ["warn", "error"]


def test_bind_does_not_leak():
    out = io.StringIO()
    log = get_logger("svc-bind", level="info", stream=out)
    child = log.bind(a=1)
    log.info("parent")
    child.info("child")
    parent_rec, child_rec = records(out)
    assert "a" not in parent_rec
    assert child_rec["a"] == 1


def test_exception_and_unserialisable_values():
    out = io.StringIO()
    log = get_logger("svc-exc", level="info", stream=out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed", obj=object())
    (rec,) = records(out)
    assert "RuntimeError: boom" in rec["exc"]
    assert rec["obj"].startswith("<object object")


def test_reconfigure_does_not_duplicate_handlers():
    out = io.StringIO()
    get_logger("svc-dup", level="info", stream=io.StringIO())
    log = get_logger("svc-dup", level="info", stream=out)
    log.info("once")
    assert len(records(out)) == 1
    assert len(log.stdlib.handlers) == 1


def test_level_from_environment(monkeypatch):
    out = io.StringIO()
    monkeypatch.setenv("LOG_LEVEL", "error")
    log = get_logger("svc-env", stream=out)
    log.warn("hidden")
    assert out.getvalue() == ""
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    log = get_logger("svc-env", stream=out)
    (rec,) = records(out)
    assert rec["msg"] == "invalid LOG_LEVEL, using info"
    assert log.stdlib.level == logging.INFO


def test_formatter_on_plain_stdlib_record():
    rec = logging.LogRecord("lib", logging.WARNING, __file__, 1, "x=%d", (3,), None)
    out = json.loads(JsonFormatter().format(rec))
    assert out["msg"] == "x=3" and out["level"] == "warn" and out["logger"] == "lib"
