"""Intent classification: a from-scratch multinomial Naive Bayes.

For a document of tokens ``w1..wn`` the classifier picks the class ``c``
maximising, in log space (products of many small probabilities underflow)::

    log P(c) + sum_i log P(wi | c)

with the Laplace-smoothed (add-``alpha``) estimate::

    P(w | c) = (count(w, c) + alpha) / (total(c) + alpha * |V|)

where ``V`` is the training vocabulary. Tokens never seen in training are
ignored: they carry no evidence for any class. Repeated tokens count as
many times as they occur (that is what makes it *multinomial*).
:meth:`NaiveBayes.predict_proba` turns the joint log-likelihoods into a
posterior with the log-sum-exp trick.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from importlib import resources
from typing import Iterable, Mapping, Optional, Sequence

from .entities import mask

_TOKEN = re.compile(r"__[a-z]+__|[a-z0-9]+(?:'[a-z]+)?")

#: Words that occur in every kind of question and only add noise to a
#: classifier trained on a few dozen examples.
STOPWORDS = frozenset(
    "a an the is are was were be been of to in on for at by with and or it this that "
    "these those me my i we our you your can could would please pls do does did".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; indicators become placeholder tokens, stopwords go."""
    return [t for t in _TOKEN.findall(mask(text).lower()) if t not in STOPWORDS]


class NaiveBayes:
    """Multinomial Naive Bayes with add-``alpha`` (Laplace) smoothing."""

    def __init__(self, alpha: float = 1.0) -> None:
        if not alpha > 0:
            raise ValueError("alpha must be > 0")
        self.alpha = float(alpha)
        self.classes: list[str] = []
        self.vocabulary: set[str] = set()
        self.log_prior: dict[str, float] = {}
        self._counts: dict[str, Counter[str]] = {}
        self._log_denominator: dict[str, float] = {}

    def fit(self, docs: Sequence[Sequence[str]], labels: Sequence[str]) -> "NaiveBayes":
        if len(docs) != len(labels):
            raise ValueError("docs and labels differ in length")
        if not docs:
            raise ValueError("no training data")
        class_docs = Counter(labels)
        self.classes = sorted(class_docs)
        self._counts = {c: Counter() for c in self.classes}
        for tokens, label in zip(docs, labels):
            self._counts[label].update(tokens)
        self.vocabulary = set().union(*self._counts.values())
        v = len(self.vocabulary)
        n = len(docs)
        self.log_prior = {c: math.log(class_docs[c] / n) for c in self.classes}
        self._log_denominator = {
            c: math.log(sum(self._counts[c].values()) + self.alpha * v) for c in self.classes
        }
        return self

    def log_likelihood(self, token: str, cls: str) -> float:
        """log P(token | cls), smoothed."""
        return math.log(self._counts[cls][token] + self.alpha) - self._log_denominator[cls]

    def joint_log_likelihood(self, tokens: Iterable[str]) -> dict[str, float]:
        """log P(c) + sum log P(w | c) per class, over in-vocabulary tokens."""
        if not self.classes:
            raise RuntimeError("classifier is not trained")
        known = [t for t in tokens if t in self.vocabulary]
        return {c: self.log_prior[c] + sum(self.log_likelihood(t, c) for t in known)
                for c in self.classes}

    def predict_proba(self, tokens: Iterable[str]) -> dict[str, float]:
        """Posterior P(c | tokens), normalised with log-sum-exp."""
        jll = self.joint_log_likelihood(tokens)
        top = max(jll.values())
        norm = top + math.log(sum(math.exp(v - top) for v in jll.values()))
        return {c: math.exp(v - norm) for c, v in jll.items()}

    def predict(self, tokens: Iterable[str]) -> tuple[str, float]:
        """The most probable class and its posterior (ties: alphabetical first)."""
        proba = self.predict_proba(tokens)
        best = min(proba, key=lambda c: (-proba[c], c))
        return best, proba[best]

    def known_tokens(self, tokens: Iterable[str]) -> list[str]:
        return [t for t in tokens if t in self.vocabulary]


class IntentClassifier:
    """Text in, ``(intent, confidence)`` out; ``unknown`` below ``min_confidence``."""

    UNKNOWN = "unknown"

    def __init__(self, examples: Mapping[str, Sequence[str]], alpha: float = 1.0,
                 min_confidence: float = 0.4) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be within [0, 1]")
        docs, labels = [], []
        for intent, texts in examples.items():
            for text in texts:
                docs.append(tokenize(text))
                labels.append(intent)
        self.model = NaiveBayes(alpha).fit(docs, labels)
        self.min_confidence = min_confidence
        self.examples = {intent: len(texts) for intent, texts in examples.items()}

    def classify(self, text: str) -> tuple[str, float, dict[str, float]]:
        """``(intent, confidence, posterior)``; no known word at all means unknown."""
        tokens = tokenize(text)
        if not self.model.known_tokens(tokens):
            return self.UNKNOWN, 0.0, {}
        proba = self.model.predict_proba(tokens)
        intent = min(proba, key=lambda c: (-proba[c], c))
        confidence = proba[intent]
        if confidence < self.min_confidence:
            return self.UNKNOWN, confidence, proba
        return intent, confidence, proba


def load_examples(path: Optional[str] = None) -> dict[str, list[str]]:
    """The labelled set: ``{"intent": ["example", ...]}`` (the bundled one by default)."""
    if path is None:
        raw = resources.files(__package__).joinpath("intents.json").read_text("utf-8")
    else:
        with open(path, encoding="utf-8") as fh:
            raw = fh.read()
    data = json.loads(raw)
    if not isinstance(data, dict) or not data:
        raise ValueError("training set must be a non-empty JSON object")
    for intent, texts in data.items():
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError(f"intent {intent!r} needs a non-empty list of example strings")
    return data
