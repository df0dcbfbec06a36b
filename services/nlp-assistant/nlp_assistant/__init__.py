"""Security analyst assistant: intent classification, indicator extraction, templated answers."""

from .assistant import Answer, Assistant
from .classifier import IntentClassifier, NaiveBayes, load_examples, tokenize
from .entities import Entities, extract, refang

__all__ = ["Answer", "Assistant", "Entities", "IntentClassifier", "NaiveBayes", "extract",
           "load_examples", "refang", "tokenize"]
__version__ = "0.1.0"
