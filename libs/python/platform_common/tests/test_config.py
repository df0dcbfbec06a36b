import pytest

from platform_common.config import ConfigError, Env, parse_duration


def test_defaults_when_unset_or_blank():
    env = Env({"BLANK": "   "})
    assert env.str("NOPE", "d") == "d"
    assert env.str("BLANK", "d") == "d"
    assert env.int("NOPE", 7) == 7
    assert env.float("NOPE", 1.5) == 1.5
    assert env.bool("NOPE", True) is True
    assert env.duration("NOPE", 30.0) == 30.0
    assert env.list("NOPE", ["x"]) == ["x"]
    assert env.list("NOPE") == []
    env.check()


def test_parses_values():
    env = Env({"S": " hi ", "I": "42", "F": "0.25", "B1": "YES", "B0": "off",
               "D": "1m30s", "L": "a, b,,c "})
    assert env.str("S") == "hi"
    assert env.int("I") == 42
    assert env.float("F") == 0.25
    assert env.bool("B1") is True
    assert env.bool("B0", True) is False
    assert env.duration("D") == 90.0
    assert env.list("L") == ["a", "b", "c"]
    env.check()


@pytest.mark.parametrize("text,seconds", [
    ("15", 15.0), ("2.5", 2.5), ("250ms", 0.25), ("1h30m", 5400.0), ("1.5s", 1.5), ("2h", 7200.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "1h junk", "m5", "5 m"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_collects_every_problem():
    env = Env({"I": "4.0", "F": "x", "B": "maybe", "D": "later"})
    assert env.int("I", 3) == 3
    env.float("F")
    env.bool("B")
    env.duration("D")
    assert env.required("SECRET") == ""
    with pytest.raises(ConfigError) as err:
        env.check()
    assert len(err.value.problems) == 5
    for key in ("I:", "F:", "B:", "D:", "SECRET: required"):
        assert key in str(err.value)


def test_required_present():
    env = Env({"SECRET": "s3cr3t"})
    assert env.required("SECRET") == "s3cr3t"
    env.check()


def test_reads_process_environment(monkeypatch):
    monkeypatch.setenv("PLATFORM_COMMON_TEST_PORT", "9999")
    assert Env().int("PLATFORM_COMMON_TEST_PORT") == 9999
