"""Lookalike domains: typos, homoglyphs, punycode and brand abuse.

A sender domain is compared with each protected domain on the *name*
part of its registrable domain (``paypal`` in ``login.paypal.co.uk``):

- ``tld-swap``: same name, other suffix (``paypal.net``);
- ``homoglyph``: different text, same *skeleton* once confusable
  characters are folded (Cyrillic ``а`` -> ``a``, ``0`` -> ``o``,
  ``rn`` -> ``m``, ``vv`` -> ``w``, full-width forms via NFKC);
  punycode (``xn--pypal-4ve``) is decoded first, so IDN tricks land here;
- ``typo``: skeletons within a small Damerau-Levenshtein distance (1,
  or 2 for names of 9+ characters; names under 4 characters are exempt,
  too many real domains are one letter from ``ibm``);
- ``brand-in-name``: the protected name is a hyphen- or dot-separated
  token elsewhere in the domain (``paypal-login.com``,
  ``paypal.com.evil.net``).

The protected domains themselves and their subdomains are never
lookalikes. Without the Public Suffix List (no network, no third-party
data) the registrable domain is approximated: the last two labels, or
three under common second-level suffixes such as ``co.uk``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Optional

SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ltd", "plc", "ne", "or"})

#: Single characters folded to the Latin letter they imitate.
HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ɡ": "g", "ո": "n", "ս": "u", "ԛ": "q", "ԝ": "w",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w",
    # Latin look-alikes and digits
    "ı": "i", "ł": "l", "ĸ": "k", "0": "o", "1": "l", "3": "e", "5": "s", "|": "l",
}
#: Letter pairs that render like one letter in most fonts.
DIGRAPHS = (("rn", "m"), ("vv", "w"), ("cl", "d"))

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
TECHNIQUES = ("tld-swap", "homoglyph", "typo", "brand-in-name")


@dataclass(frozen=True)
class Lookalike:
    domain: str  # as seen (ASCII / punycode)
    unicode: str  # decoded for display
    protected: str
    technique: str
    distance: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"domain": self.domain, "unicode": self.unicode, "protected": self.protected,
                "technique": self.technique, "distance": self.distance}


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions
    and transpositions of adjacent characters each cost 1."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def to_unicode(domain: str) -> str:
    """Decode punycode labels; ValueError for a label that is not valid punycode."""
    out = []
    for label in domain.lower().rstrip(".").split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                raise ValueError(f"invalid punycode label {label!r}") from None
        out.append(label)
    return ".".join(out)


def to_ascii(domain: str) -> str:
    """The ASCII (punycode) form of a possibly Unicode domain."""
    name = domain.strip().lower().rstrip(".")
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{domain!r} is not a valid internationalised domain") from None


def skeleton(text: str) -> str:
    """Fold confusable characters so that lookalikes compare equal."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(HOMOGLYPHS.get(ch, ch) for ch in text)
    # strip combining marks (é -> e) after decomposition
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    for pair, single in DIGRAPHS:
        text = text.replace(pair, single)
    return text


def registrable(domain: str) -> str:
    """Approximate registrable domain (see module docs)."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def name_of(reg: str) -> str:
    """``paypal`` of ``paypal.com`` and of ``paypal.co.uk``."""
    return reg.split(".")[0]


def is_valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and len(domain) <= 253 and all(_LABEL.match(x) for x in labels) \
        and not labels[-1].isdigit()


def max_distance(name: str) -> int:
    if len(name) < 4:
        return 0
    return 2 if len(name) >= 9 else 1


def find_lookalike(domain: str, protected: Iterable[str]) -> Optional[Lookalike]:
    """The strongest lookalike match of ``domain`` (ASCII or Unicode) against the
    protected domains, or None. Raises ValueError for undecodable punycode."""
    ascii_form = to_ascii(domain)
    uni = to_unicode(ascii_form)
    reg = registrable(uni)
    protected = [to_unicode(p) for p in protected]
    if any(reg == registrable(p) for p in protected):
        return None
    name = name_of(reg)
    tokens = set(re.split(r"[.-]", uni))
    best: Optional[Lookalike] = None
    for p in protected:
        pname = name_of(registrable(p))
        found: Optional[Lookalike] = None
        if name == pname:
            found = Lookalike(ascii_form, uni, p, "tld-swap")
        elif skeleton(name) == skeleton(pname):
            found = Lookalike(ascii_form, uni, p, "homoglyph")
        else:
            d = edit_distance(skeleton(name), skeleton(pname))
            if 0 < d <= max_distance(pname):
                found = Lookalike(ascii_form, uni, p, "typo", d)
            elif len(pname) >= 4 and pname in tokens:
                found = Lookalike(ascii_form, uni, p, "brand-in-name")
        if found and (best is None or _rank(found) < _rank(best)):
            best = found
    return best


def _rank(m: Lookalike) -> tuple[int, int]:
    return TECHNIQUES.index(m.technique), m.distance
