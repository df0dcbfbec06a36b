import math

import pytest

from decision_engine.model import (
    ALLOW, BLOCK, CRITICALITY, OVERRIDES, STEP_UP, DecisionModel, Signals, ThreatIntel, Thresholds, Weights,
    weights_from_env,
)


def sig(anomaly=None, ti=None, asset=None, user=None):
    data = {"anomaly_score": anomaly, "threat_intel": ti, "asset_criticality": asset, "user_risk": user}
    return Signals.from_dict({k: v for k, v in data.items() if v is not None})


def factor(decision, name):
    return next(f for f in decision.factors if f["name"] == name)


# -- the weighted model ---------------------------------------------------------

@pytest.mark.parametrize("signals,risk,decision", [
    # 0.35*0.1 + 0.15*0.25 = 0.0725
    (sig(anomaly=0.1, ti=False, asset="low", user=0.0), 0.0725, ALLOW),
    # 0.35*0.8 + 0.15*0.75 + 0.20*0.5 = 0.4925
    (sig(anomaly=0.8, ti={"match": False}, asset="high", user=0.5), 0.4925, STEP_UP),
    # everything maximal
    (sig(anomaly=1, ti={"match": True, "confidence": 1, "category": "phishing"}, asset="critical", user=1), 1.0, BLOCK),
    # every value 0.4 -> exactly the step-up threshold (float noise must not turn it into allow)
    (sig(anomaly=0.4, ti={"match": True, "confidence": 0.4}, asset=0.4, user=0.4), 0.4, STEP_UP),
    (sig(anomaly=0.39, ti={"match": True, "confidence": 0.39}, asset=0.39, user=0.39), 0.39, ALLOW),
    # exactly the block threshold
    (sig(anomaly=0.7, ti={"match": True, "confidence": 0.7, "category": "spam"}, asset=0.7, user=0.7), 0.7, BLOCK),
    (sig(anomaly=0.69, ti={"match": True, "confidence": 0.69}, asset=0.69, user=0.69), 0.69, STEP_UP),
    # a non-match contributes nothing, whatever its confidence
    (sig(anomaly=0.0, ti={"match": False, "confidence": 1.0}, asset=0.0, user=0.0), 0.0, ALLOW),
])
def test_weighted_risk_and_thresholds(signals, risk, decision):
    d = DecisionModel().decide(signals)
    assert d.risk == pytest.approx(risk)
    assert d.model_decision == decision


def test_contributions_add_up_and_are_ranked():
    d = DecisionModel().decide(sig(anomaly=0.8, ti=False, asset="high", user=0.5))
    assert [f["name"] for f in d.factors] == ["anomaly", "asset_criticality", "user_risk", "threat_intel"]
    assert sum(f["contribution"] for f in d.factors) == pytest.approx(d.risk, abs=1e-3)
    assert sum(f["share"] for f in d.factors) == pytest.approx(1.0, abs=1e-3)
    a = factor(d, "anomaly")
    assert a == {"name": "anomaly", "value": 0.8, "weight": 0.35, "contribution": 0.28,
                 "share": round(0.28 / 0.4925, 4), "defaulted": False}
    assert d.explanation == ("step_up: risk 0.49 >= step-up threshold 0.40; "
                             "driven by anomaly (57%) and asset_criticality (23%)")


def test_missing_signals_use_reported_defaults():
    d = DecisionModel().decide(sig(anomaly=0.5))
    # 0.35*0.5 + 0.15*0.5 (medium asset)
    assert d.risk == pytest.approx(0.25)
    assert {f["name"]: f["defaulted"] for f in d.factors} == {
        "anomaly": False, "threat_intel": True, "asset_criticality": True, "user_risk": True}
    assert factor(d, "asset_criticality")["value"] == CRITICALITY["medium"]
    assert d.explanation.endswith("defaults used for threat_intel, asset_criticality, user_risk")


def test_zero_risk_has_zero_shares():
    d = DecisionModel().decide(sig(anomaly=0, asset=0))
    assert d.risk == 0 and all(f["share"] == 0 for f in d.factors)
    assert d.explanation.startswith("allow: risk 0.00 < step-up threshold 0.40")
    assert "driven by" not in d.explanation


def test_custom_weights_are_normalised():
    only_anomaly = DecisionModel(Weights(anomaly=1, threat_intel=0, asset_criticality=0, user_risk=0))
    assert only_anomaly.decide(sig(anomaly=0.55, asset="critical", user=1)).risk == pytest.approx(0.55)
    # weights need not sum to 1: (2*0.5 + 2*1.0) / 4
    doubled = DecisionModel(Weights(anomaly=2, threat_intel=2, asset_criticality=0, user_risk=0))
    assert doubled.decide(sig(anomaly=0.5, ti=True)).risk == pytest.approx(0.75)


def test_custom_thresholds():
    strict = DecisionModel(thresholds=Thresholds(step_up=0.2, block=0.3))
    assert strict.decide(sig(anomaly=0.5)).decision == STEP_UP  # risk 0.25
    assert strict.decide(sig(anomaly=0.8)).decision == BLOCK    # risk 0.355


# -- overrides ----------------------------------------------------------------

@pytest.mark.parametrize("signals,model,final,fired", [
    # high-confidence C2 blocks although the weighted risk is low (0.285 + 0.075)
    (sig(ti={"match": True, "confidence": 0.95, "category": " C2 "}), ALLOW, BLOCK,
     ["known_malicious_infrastructure:escalated", "threat_intel_match:no change"]),
    (sig(ti={"match": True, "confidence": 0.9, "category": "ransomware"}), ALLOW, BLOCK,
     ["known_malicious_infrastructure:escalated", "threat_intel_match:no change"]),
    # just below the confidence bar: only step-up
    (sig(ti={"match": True, "confidence": 0.89, "category": "c2"}), ALLOW, STEP_UP, ["threat_intel_match:escalated"]),
    # a match without a malicious category
    (sig(ti=True), ALLOW, STEP_UP, ["threat_intel_match:escalated"]),
    (sig(ti={"match": True, "confidence": 0.49}), ALLOW, ALLOW, []),
    # critical asset + strong anomaly: 0.28 + 0.15 = 0.43 is step-up, the rule blocks
    (sig(anomaly=0.8, asset="critical"), STEP_UP, BLOCK, ["critical_asset_anomaly:escalated"]),
    (sig(anomaly=0.79, asset="critical"), STEP_UP, STEP_UP, []),
    (sig(anomaly=0.9, asset="high"), STEP_UP, STEP_UP, []),
    (sig(anomaly=0.9, asset=0.99), STEP_UP, STEP_UP, []),
    # a very risky user always steps up
    (sig(user=0.9), ALLOW, STEP_UP, ["high_risk_user:escalated"]),
    (sig(user=0.89), ALLOW, ALLOW, []),
    # overrides never relax: the model already blocks
    (sig(anomaly=1, ti={"match": True, "confidence": 1}, asset="critical", user=1), BLOCK, BLOCK,
     ["critical_asset_anomaly:no change", "high_risk_user:no change", "threat_intel_match:no change"]),
])
def test_overrides(signals, model, final, fired):
    d = DecisionModel().decide(signals)
    assert d.model_decision == model
    assert d.decision == final
    assert [f"{o['rule']}:{o['effect']}" for o in d.overrides] == fired


def test_override_explanation():
    d = DecisionModel().decide(sig(ti={"match": True, "confidence": 0.95, "category": "c2"}))
    assert d.explanation == ("block: risk 0.36 < step-up threshold 0.40; driven by threat_intel (79%) and "
                             "asset_criticality (21%); escalated from allow by known_malicious_infrastructure; "
                             "defaults used for anomaly, asset_criticality, user_risk")


def test_overrides_can_be_replaced():
    d = DecisionModel(overrides=()).decide(sig(ti={"match": True, "confidence": 1.0, "category": "c2"}))
    assert d.decision == ALLOW and d.overrides == []
    assert len(DecisionModel().describe()["overrides"]) == len(OVERRIDES)


def test_to_dict():
    model = DecisionModel()
    out = model.decide(sig(anomaly=0.123456)).to_dict(model.thresholds)
    assert out["risk"] == round(0.35 * 0.123456 + 0.075, 4)
    assert out["thresholds"] == {"step_up": 0.4, "block": 0.7}
    assert set(out) == {"decision", "model_decision", "risk", "thresholds", "factors", "overrides", "explanation"}


# -- input validation -------------------------------------------------------------

@pytest.mark.parametrize("data,msg", [
    ([], "JSON object"),
    (None, "JSON object"),
    ({}, "at least one signal"),
    ({"anomaly_score": None}, "at least one signal"),
    ({"anomaly": 0.5}, "unknown signal 'anomaly'"),
    ({"anomaly_score": "high"}, "anomaly_score must be a number"),
    ({"anomaly_score": True}, "anomaly_score must be a number"),
    ({"anomaly_score": 1.01}, "between 0 and 1"),
    ({"anomaly_score": -0.01}, "between 0 and 1"),
    ({"anomaly_score": float("nan")}, "between 0 and 1"),
    ({"user_risk": 2}, "user_risk must be between"),
    ({"asset_criticality": "extreme"}, "asset_criticality must be one of"),
    ({"asset_criticality": 1.5}, "asset_criticality must be between"),
    ({"threat_intel": "yes"}, "boolean or an object"),
    ({"threat_intel": {"match": "true"}}, "match must be a boolean"),
    ({"threat_intel": {"confidence": 0.5}}, "match must be a boolean"),
    ({"threat_intel": {"match": True, "confidence": 1.5}}, "confidence must be between"),
    ({"threat_intel": {"match": True, "category": 5}}, "category must be a string"),
    ({"threat_intel": {"match": True, "source": "misp"}}, "unknown field 'source'"),
])
def test_signal_validation(data, msg):
    with pytest.raises(ValueError, match=msg):
        Signals.from_dict(data)


def test_signal_parsing():
    s = Signals.from_dict({"anomaly_score": 1, "asset_criticality": " High ", "user_risk": 0,
                           "threat_intel": {"match": True, "confidence": 0.6, "category": "Botnet"}})
    assert s.anomaly_score == 1.0 and isinstance(s.anomaly_score, float)
    assert s.asset_criticality == 0.75 and s.user_risk == 0.0
    assert s.threat_intel == ThreatIntel(match=True, confidence=0.6, category="botnet")
    assert Signals.from_dict({"threat_intel": False}).threat_intel == ThreatIntel(match=False)
    assert Signals.from_dict({"threat_intel": {"match": True, "category": ""}}).threat_intel.category is None
    assert ThreatIntel(match=False, confidence=0.9).value == 0.0


@pytest.mark.parametrize("kwargs", [
    {"anomaly": -0.1}, {"user_risk": math.nan}, {"threat_intel": math.inf}, {"anomaly": True},
    {"anomaly": "0.3"}, {"anomaly": 0, "threat_intel": 0, "asset_criticality": 0, "user_risk": 0},
])
def test_bad_weights(kwargs):
    with pytest.raises(ValueError, match="weight"):
        Weights(**kwargs)


@pytest.mark.parametrize("step_up,block", [(0, 0.7), (0.7, 0.7), (0.8, 0.7), (0.4, 1.01), (-0.1, 0.5)])
def test_bad_thresholds(step_up, block):
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(step_up=step_up, block=block)


def test_weights_from_env():
    env = {"WEIGHT_ANOMALY": 0.5, "WEIGHT_USER_RISK": 0.0}
    w = weights_from_env(lambda key, default: env.get(key, default))
    assert w.as_dict() == {"anomaly": 0.5, "threat_intel": 0.30, "asset_criticality": 0.15, "user_risk": 0.0}
    assert w.total() == pytest.approx(0.95)
