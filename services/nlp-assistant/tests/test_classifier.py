import json
import math

import pytest

from nlp_assistant.classifier import IntentClassifier, NaiveBayes, load_examples, tokenize

# The worked example of Manning, Raghavan & Schuetze, "Introduction to
# Information Retrieval", section 13.2.
DOCS = [
    ["chinese", "beijing", "chinese"],
    ["chinese", "chinese", "shanghai"],
    ["chinese", "macao"],
    ["tokyo", "japan", "chinese"],
]
LABELS = ["china", "china", "china", "japan"]
TEST_DOC = ["chinese", "chinese", "chinese", "tokyo", "japan"]


@pytest.fixture
def nb():
    return NaiveBayes(alpha=1.0).fit(DOCS, LABELS)


def test_priors_and_vocabulary(nb):
    assert nb.classes == ["china", "japan"]
    assert nb.vocabulary == {"chinese", "beijing", "shanghai", "macao", "tokyo", "japan"}
    assert math.exp(nb.log_prior["china"]) == pytest.approx(3 / 4)
    assert math.exp(nb.log_prior["japan"]) == pytest.approx(1 / 4)


@pytest.mark.parametrize("token,cls,p", [
    ("chinese", "china", 6 / 14),   # (5 + 1) / (8 + 6)
    ("tokyo", "china", 1 / 14),     # unseen in class: smoothing only
    ("japan", "china", 1 / 14),
    ("chinese", "japan", 2 / 9),    # (1 + 1) / (3 + 6)
    ("tokyo", "japan", 2 / 9),
    ("beijing", "japan", 1 / 9),
])
def test_laplace_smoothed_likelihoods(nb, token, cls, p):
    assert math.exp(nb.log_likelihood(token, cls)) == pytest.approx(p)


def test_posterior_matches_the_textbook(nb):
    china = 3 / 4 * (3 / 7) ** 3 * (1 / 14) * (1 / 14)
    japan = 1 / 4 * (2 / 9) ** 3 * (2 / 9) * (2 / 9)
    proba = nb.predict_proba(TEST_DOC)
    assert proba["china"] == pytest.approx(china / (china + japan))
    assert sum(proba.values()) == pytest.approx(1.0)
    assert nb.predict(TEST_DOC) == ("china", pytest.approx(china / (china + japan)))


def test_repeated_tokens_count_multiple_times(nb):
    # multinomial, not Bernoulli: more "tokyo japan" evidence flips the class
    assert nb.predict(["chinese", "tokyo", "japan"])[0] == "japan"
    assert nb.predict(["chinese", "chinese", "chinese", "tokyo", "japan"])[0] == "china"


def test_alpha_changes_the_estimate():
    nb = NaiveBayes(alpha=0.5).fit(DOCS, LABELS)
    assert math.exp(nb.log_likelihood("tokyo", "china")) == pytest.approx(0.5 / (8 + 0.5 * 6))


def test_unknown_tokens_are_ignored(nb):
    proba = nb.predict_proba(["never", "seen"])
    assert proba["china"] == pytest.approx(3 / 4)
    assert nb.known_tokens(["never", "tokyo"]) == ["tokyo"]


def test_log_space_survives_long_documents(nb):
    proba = nb.predict_proba(["tokyo"] * 5000)
    assert proba["japan"] == pytest.approx(1.0)
    assert all(math.isfinite(v) for v in proba.values())


def test_ties_break_alphabetically():
    nb = NaiveBayes().fit([["a"], ["a"]], ["zulu", "alpha"])
    assert nb.predict(["a"]) == ("alpha", pytest.approx(0.5))


@pytest.mark.parametrize("alpha", [0, -1])
def test_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError):
        NaiveBayes(alpha)


def test_fit_validation():
    with pytest.raises(ValueError):
        NaiveBayes().fit([["a"]], ["x", "y"])
    with pytest.raises(ValueError):
        NaiveBayes().fit([], [])
    with pytest.raises(RuntimeError):
        NaiveBayes().predict(["a"])


@pytest.mark.parametrize("text,tokens", [
    ("Is 8.8.8.8 malicious?", ["__ip__", "malicious"]),
    ("Block evil[.]com NOW", ["block", "__domain__", "now"]),
    ("what's CVE-2021-44228", ["what's", "__cve__"]),
    ("the a an is", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


@pytest.fixture(scope="module")
def intents():
    return IntentClassifier(load_examples())


@pytest.mark.parametrize("question,intent", [
    ("is 45.9.148.3 malicious?", "ip_reputation"),
    ("reputation of 9.9.9.9", "ip_reputation"),
    ("tell me about cve-2020-0601", "cve_lookup"),
    ("is CVE-2023-34362 being exploited", "cve_lookup"),
    ("what malware family is 44d88612fea8a8f36de82e1278abb02f", "hash_lookup"),
    ("is login-paypal.com a phishing site", "domain_lookup"),
    ("firewall block 185.220.101.4", "block_indicator"),
    ("please block evil[.]com", "block_indicator"),
    ("any open alerts", "incident_status"),
    ("status of the ransomware incident", "incident_status"),
    ("hello there", "greeting"),
])
def test_bundled_model_on_held_out_questions(intents, question, intent):
    got, confidence, proba = intents.classify(question)
    assert got == intent
    assert confidence == max(proba.values()) >= intents.min_confidence


def test_gibberish_is_unknown(intents):
    assert intents.classify("asdf qwerty zxcv") == ("unknown", 0.0, {})


def test_low_confidence_is_unknown():
    clf = IntentClassifier({"a": ["alpha shared"], "b": ["beta shared"]}, min_confidence=0.6)
    intent, confidence, proba = clf.classify("shared")
    assert intent == "unknown" and confidence == pytest.approx(0.5)
    assert set(proba) == {"a", "b"}
    assert clf.classify("alpha")[0] == "a"


def test_min_confidence_range():
    with pytest.raises(ValueError):
        IntentClassifier({"a": ["x"]}, min_confidence=1.5)


def test_load_examples_from_file(tmp_path):
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"x": ["one"], "y": ["two"]}))
    assert load_examples(str(path)) == {"x": ["one"], "y": ["two"]}
    bundled = load_examples()
    assert len(bundled) == 7 and all(len(v) >= 10 for v in bundled.values())


@pytest.mark.parametrize("data", [[], {}, {"x": []}, {"x": "text"}, {"x": ["ok", " "]}, {"x": [3]}])
def test_load_examples_rejects_bad_sets(tmp_path, data):
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError):
        load_examples(str(path))
