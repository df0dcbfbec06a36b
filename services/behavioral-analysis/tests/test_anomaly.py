import math
import random
import statistics

import pytest

from behavioral_analysis.anomaly import (
    ANOMALOUS, NORMAL, SUSPICIOUS, Z_MAX, Baseline, CircularStats, Event, RunningStats,
    Scorer, clock,
)


def ev(user="alice", hour=9.0, bytes_out=1_000_000, failed=0, hosts=1, country="DE"):
    return Event(user=user, login_hour=hour, bytes_out=bytes_out, failed_logins=failed,
                 distinct_hosts=hosts, country=country)


def office_worker(scorer, user="alice", n=40, seed=7, hour=9.0, country="DE"):
    """Train a regular 9-to-5 user: logins around `hour`, ~1 MB out."""
    rng = random.Random(seed)
    for _ in range(n):
        scorer.observe(ev(user, hour=(hour + rng.gauss(0, 0.75)) % 24,
                          bytes_out=rng.lognormvariate(math.log(1e6), 0.4),
                          failed=rng.choice([0, 0, 0, 1]), hosts=rng.choice([1, 1, 2]),
                          country=country))


# -- running statistics -------------------------------------------------------

def test_running_stats_matches_statistics_module():
    rng = random.Random(3)
    xs = [rng.uniform(-50, 50) for _ in range(500)]
    s = RunningStats()
    for x in xs:
        s.add(x)
    assert s.n == 500
    assert s.mean == pytest.approx(statistics.fmean(xs))
    assert s.std == pytest.approx(statistics.stdev(xs))  # sample (n-1) std


def test_running_stats_is_numerically_stable():
    # naive sum-of-squares loses everything here; Welford must not
    s = RunningStats()
    for x in (1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16):
        s.add(x)
    assert s.std == pytest.approx(statistics.stdev([4, 7, 13, 16]))


def test_running_stats_small_n():
    s = RunningStats()
    assert s.std == 0.0
    s.add(5)
    assert s.std == 0.0 and s.mean == 5


# -- circular statistics ------------------------------------------------------

@pytest.mark.parametrize("a,b,d", [
    (23, 1, 2), (1, 23, 2), (0, 12, 12), (6, 6, 0), (22.5, 0.5, 2), (0, 23.75, 0.25),
])
def test_circular_distance(a, b, d):
    assert CircularStats.distance(a, b) == pytest.approx(d)


def test_circular_mean_across_midnight():
    c = CircularStats()
    for h in (23.0, 23.5, 0.5, 1.0):
        c.add(h)
    # the arithmetic mean would be 12:00, the opposite of the truth
    assert CircularStats.distance(c.mean, 0.0) < 1e-9
    assert 0 < c.std < 1.5


def test_circular_std_tracks_spread():
    tight, wide = CircularStats(), CircularStats()
    for h in (9, 9.1, 8.9, 9.05):
        tight.add(h)
    for h in (6, 9, 12, 15):
        wide.add(h)
    assert tight.std < 0.2 < 3 < wide.std
    assert tight.resultant > wide.resultant


def test_circular_undefined_mean():
    c = CircularStats()
    assert c.mean is None and c.resultant == 0.0
    for h in (0, 6, 12, 18):  # uniform round the clock
        c.add(h)
    assert c.mean is None
    assert c.std == math.inf


# -- events -------------------------------------------------------------------

def test_event_from_dict_normalises_country():
    e = Event.from_dict({"user": "bob", "login_hour": 3, "country": " de "})
    assert e.country == "DE" and e.distinct_hosts == 1 and e.bytes_out == 0


@pytest.mark.parametrize("data,msg", [
    ({"login_hour": 3}, "required"),
    ({"user": "bob"}, "required"),
    ({"user": "", "login_hour": 3}, "user"),
    ({"user": 7, "login_hour": 3}, "user"),
    ({"user": "b", "login_hour": 24}, "login_hour"),
    ({"user": "b", "login_hour": -0.1}, "login_hour"),
    ({"user": "b", "login_hour": "9"}, "login_hour"),
    ({"user": "b", "login_hour": float("nan")}, "finite"),
    ({"user": "b", "login_hour": 1, "bytes_out": -1}, "bytes_out"),
    ({"user": "b", "login_hour": 1, "bytes_out": True}, "bytes_out"),
    ({"user": "b", "login_hour": 1, "failed_logins": 1.5}, "integer"),
    ({"user": "b", "login_hour": 1, "distinct_hosts": -1}, "distinct_hosts"),
    ({"user": "b", "login_hour": 1, "country": 49}, "country"),
    ({"user": "b", "login_hour": 1, "admin": True}, "unknown field"),
    ([1, 2], "JSON object"),
])
def test_event_validation(data, msg):
    with pytest.raises(ValueError, match=msg):
        Event.from_dict(data)


# -- baseline z-scores --------------------------------------------------------

def test_zscores_one_sided_for_volumes():
    b = Baseline()
    for bytes_out, failed in ((1e6, 0), (2e6, 1), (1.5e6, 0), (1.2e6, 1)):
        b.add(ev(bytes_out=bytes_out, failed=failed))
    low = b.zscores(ev(bytes_out=10, failed=0, hosts=0))
    assert low["bytes_out"] == 0.0 and low["distinct_hosts"] == 0.0
    high = b.zscores(ev(bytes_out=1e9, failed=8))
    assert high["bytes_out"] > 5 and high["failed_logins"] > 5


def test_zscores_use_std_floor():
    b = Baseline()
    for _ in range(10):
        b.add(ev(hour=9.0, failed=0, hosts=1))  # perfectly regular: std == 0
    z = b.zscores(ev(hour=10.0, failed=1, hosts=2))
    assert z["login_hour"] == pytest.approx(1.0)  # 1h off / 1h floor, not infinite
    assert z["failed_logins"] == pytest.approx(1.0)
    assert z["distinct_hosts"] == pytest.approx(1.0)


def test_zscores_clipped():
    b = Baseline()
    for _ in range(10):
        b.add(ev(failed=0))
    assert b.zscores(ev(failed=1000))["failed_logins"] == Z_MAX


def test_hour_zscore_is_circular():
    b = Baseline()
    for h in (23.0, 23.5, 0.0, 0.5, 1.0, 23.75):
        b.add(ev(hour=h))
    assert b.zscores(ev(hour=0.25))["login_hour"] < 1.0
    assert b.zscores(ev(hour=12.0))["login_hour"] > 5.0


def test_uniform_hours_give_no_hour_signal():
    b = Baseline()
    for h in (0, 6, 12, 18):
        b.add(ev(hour=h))
    assert b.zscores(ev(hour=3))["login_hour"] == 0.0
    assert b.summary()["login_hour"] == {"mean": None, "std": None}


# -- scorer -------------------------------------------------------------------

def test_regular_login_is_normal():
    s = Scorer()
    office_worker(s)
    r = s.score(ev(hour=9.25, bytes_out=1.1e6))
    assert r.level == NORMAL and r.baseline == "user"
    assert r.score < 2.0 and r.reasons == []


def test_3am_login_is_flagged_with_reason():
    s = Scorer()
    office_worker(s)
    r = s.score(ev(hour=3.0))
    assert r.level in (SUSPICIOUS, ANOMALOUS)
    (reason,) = r.reasons
    assert reason.startswith("login_hour") and ("usual 08:" in reason or "usual 09:" in reason)


def test_exfiltration_pattern_is_anomalous():
    s = Scorer()
    office_worker(s)
    r = s.score(ev(hour=2.5, bytes_out=5e9, failed=6, hosts=12, country="KP"))
    assert r.level == ANOMALOUS
    assert r.zscores["new_country"] == 3.0
    assert "first login from KP" in r.reasons
    assert len(r.reasons) == 5


def test_combined_score_is_weighted_euclidean_norm():
    s = Scorer(weights={"login_hour": 4.0})
    office_worker(s)
    r = s.score(ev(hour=14.0, bytes_out=3e7, country="DE"))
    expected = math.sqrt(sum(s.weights[k] * v * v for k, v in r.zscores.items()))
    assert r.score == pytest.approx(expected)
    unweighted = Scorer()
    office_worker(unweighted)
    assert unweighted.score(ev(hour=14.0, bytes_out=3e7)).score < r.score


def test_zero_weight_ignores_feature():
    s = Scorer(weights={"failed_logins": 0})
    office_worker(s)
    assert s.score(ev(failed=50)).level == NORMAL


def test_new_country_alone_is_suspicious():
    s = Scorer()
    office_worker(s)
    r = s.score(ev(hour=9.0, bytes_out=1e6, country="BR"))
    assert r.level == SUSPICIOUS
    assert s.score(ev(hour=9.0, bytes_out=1e6, country="")).level == NORMAL


@pytest.mark.parametrize("score,level", [
    (0.0, NORMAL), (2.999, NORMAL), (3.0, SUSPICIOUS), (4.999, SUSPICIOUS), (5.0, ANOMALOUS), (50, ANOMALOUS),
])
def test_level_thresholds(score, level):
    assert Scorer().level(score) == level


def test_new_user_falls_back_to_global_then_none():
    s = Scorer(min_history=5)
    r = s.score(ev(user="carol"))
    assert (r.baseline, r.level, r.score) == ("none", NORMAL, 0.0)
    assert r.reasons == ["insufficient history"]
    office_worker(s, user="alice", n=10)
    r = s.score(ev(user="carol", hour=9.0))
    assert r.baseline == "global" and r.level == NORMAL
    assert s.score(ev(user="carol", hour=21.0)).level != NORMAL
    for _ in range(5):
        s.observe(ev(user="carol", hour=21.0))
    assert s.score(ev(user="carol", hour=21.0)).baseline == "user"


def test_per_user_baselines_are_independent():
    s = Scorer()
    office_worker(s, user="day", hour=9.0)
    office_worker(s, user="night", hour=22.0, seed=11)
    assert s.score(ev(user="night", hour=22.5)).level == NORMAL
    assert s.score(ev(user="day", hour=22.5)).level != NORMAL
    assert s.users == 2


def test_learning_skips_anomalies():
    s = Scorer()
    office_worker(s)
    before = s.baseline("alice")["events"]
    assert s.score_and_learn(ev(hour=9.0)).level == NORMAL
    assert s.baseline("alice")["events"] == before + 1
    # a burst of attacker sessions must not drag the baseline towards itself
    for _ in range(50):
        assert s.score_and_learn(ev(hour=3.0, bytes_out=5e9)).level == ANOMALOUS
    assert s.baseline("alice")["events"] == before + 1


def test_baseline_summary():
    s = Scorer()
    assert s.baseline("nobody") is None
    office_worker(s, n=20)
    summary = s.baseline("alice")
    assert summary["events"] == 20 and summary["countries"] == ["DE"]
    assert CircularStats.distance(summary["login_hour"]["mean"], 9.0) < 0.5
    assert summary["bytes_out"]["mean"] == pytest.approx(math.log(1e6), abs=0.3)


@pytest.mark.parametrize("kwargs", [
    {"suspicious": 5, "anomalous": 3},
    {"suspicious": 0},
    {"min_history": 1},
    {"weights": {"shoe_size": 1}},
    {"weights": {"bytes_out": -1}},
])
def test_scorer_validation(kwargs):
    with pytest.raises(ValueError):
        Scorer(**kwargs)


@pytest.mark.parametrize("hour,text", [(9.0, "09:00"), (8.75, "08:45"), (23.999, "00:00"), (None, "?")])
def test_clock(hour, text):
    assert clock(hour) == text


def test_result_to_dict_rounds():
    s = Scorer()
    office_worker(s)
    d = s.score(ev(hour=3.0)).to_dict()
    assert set(d) == {"user", "score", "level", "baseline", "zscores", "reasons"}
    assert d["score"] == round(d["score"], 4)
