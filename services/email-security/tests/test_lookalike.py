import pytest

from email_security.lookalike import (
    edit_distance, find_lookalike, is_valid_domain, max_distance, registrable, skeleton, to_ascii, to_unicode,
)

PROTECTED = ["acmesecurity.com", "acmebank.co.uk", "paypal.com", "microsoft.com", "ibm.com"]


@pytest.mark.parametrize("a,b,d", [
    ("", "", 0), ("abc", "", 3), ("", "abc", 3), ("paypal", "paypal", 0),
    ("paypal", "paypall", 1),  # insertion
    ("paypal", "paypl", 1),  # deletion
    ("paypal", "paypel", 1),  # substitution
    ("paypal", "pyapal", 1),  # adjacent transposition costs 1, not 2
    ("microsoft", "micorsoft", 1),
    ("ca", "abc", 3),  # OSA, not full Damerau: no edits inside a transposed pair
    ("kitten", "sitting", 3),
    ("flaw", "lawn", 2),
])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


@pytest.mark.parametrize("text,expected", [
    ("pаypal", "paypal"),  # Cyrillic a
    ("РАYРАL", "paypal"),  # Cyrillic capitals
    ("ｐａｙｐａｌ", "paypal"),  # full-width, via NFKC
    ("paypa1", "paypal"),
    ("g00gle", "google"),
    ("rnicrosoft", "microsoft"),  # rn -> m
    ("vvells", "wells"),
    ("pâypäl", "paypal"),  # accents dropped
    ("αpple", "apple"),  # Greek alpha
])
def test_skeleton(text, expected):
    assert skeleton(text) == expected


@pytest.mark.parametrize("domain,unicode", [
    ("xn--pypal-4ve.com", "pаypal.com"),
    ("XN--PYPAL-4VE.COM.", "pаypal.com"),
    ("paypal.com", "paypal.com"),
    ("mail.xn--mnchen-3ya.de", "mail.münchen.de"),
])
def test_to_unicode(domain, unicode):
    assert to_unicode(domain) == unicode


def test_to_unicode_rejects_bad_punycode():
    with pytest.raises(ValueError, match="invalid punycode"):
        to_unicode("xn--zz.com")


def test_to_ascii():
    assert to_ascii("Pаypal.com.") == "xn--pypal-4ve.com"
    assert to_ascii("example.com") == "example.com"
    with pytest.raises(ValueError):
        to_ascii("caf\u00e9..com")  # an empty label cannot be IDNA-encoded


@pytest.mark.parametrize("domain,reg", [
    ("paypal.com", "paypal.com"),
    ("login.paypal.com", "paypal.com"),
    ("a.b.acmebank.co.uk", "acmebank.co.uk"),
    ("acmebank.co.uk", "acmebank.co.uk"),
    ("evil.uk", "evil.uk"),
    ("x.example.io", "example.io"),
    ("shop.example.com.au", "example.com.au"),
    ("paypal.co.com", "co.com"),  # only two-letter country codes have second-level suffixes
    ("localhost", "localhost"),
])
def test_registrable(domain, reg):
    assert registrable(domain) == reg


@pytest.mark.parametrize("domain,ok", [
    ("paypal.com", True), ("xn--pypal-4ve.com", True), ("a-b.co.uk", True),
    ("localhost", False), ("-a.com", False), ("a-.com", False), ("a..com", False), ("a.123", False),
    ("under_score.com", False), ("a" * 64 + ".com", False),
])
def test_is_valid_domain(domain, ok):
    assert is_valid_domain(domain) is ok


@pytest.mark.parametrize("name,d", [("ibm", 0), ("acme", 1), ("paypal", 1), ("acmebank", 1), ("microsoft", 2)])
def test_max_distance(name, d):
    assert max_distance(name) == d


@pytest.mark.parametrize("domain,protected,technique,distance", [
    ("paypal.net", "paypal.com", "tld-swap", 0),
    ("acmebank.com", "acmebank.co.uk", "tld-swap", 0),
    ("xn--pypal-4ve.com", "paypal.com", "homoglyph", 0),  # Cyrillic a, as punycode
    ("pаypal.com", "paypal.com", "homoglyph", 0),  # ... or as Unicode
    ("paypa1.com", "paypal.com", "homoglyph", 0),
    ("rnicrosoft.com", "microsoft.com", "homoglyph", 0),
    ("paypall.com", "paypal.com", "typo", 1),
    ("pyapal.com", "paypal.com", "typo", 1),
    ("acmesecuirty.com", "acmesecurity.com", "typo", 1),
    ("acmesecurlty.net", "acmesecurity.com", "typo", 1),
    ("micrsft.com", "microsoft.com", "typo", 2),  # long names allow two edits
    ("login.paypall.com", "paypal.com", "typo", 1),  # subdomains do not hide it
    ("paypal-login.com", "paypal.com", "brand-in-name", 0),
    ("secure.paypal.com.evil.net", "paypal.com", "brand-in-name", 0),
    ("verify-acmebank.com", "acmebank.co.uk", "brand-in-name", 0),
    ("ibm.net", "ibm.com", "tld-swap", 0),
])
def test_find_lookalike(domain, protected, technique, distance):
    m = find_lookalike(domain, PROTECTED)
    assert m is not None
    assert (m.protected, m.technique, m.distance) == (protected, technique, distance)


@pytest.mark.parametrize("domain", [
    "paypal.com", "PAYPAL.COM.", "www.paypal.com", "mail.acmebank.co.uk",  # protected and subdomains
    "example.org", "paypalmafia.com",  # 'paypal' as part of a word is not a token
    "ibn.com", "icm.com",  # short names get no typo tolerance
    "micro.com",  # too far from microsoft
    "paypals-are-great.org",  # 'paypals' is not the brand token
])
def test_not_lookalikes(domain):
    assert find_lookalike(domain, PROTECTED) is None


def test_best_technique_wins():
    # paypal.co vs paypal.com (tld-swap) beats brand-in-name against anything else
    m = find_lookalike("paypal.co", ["paypal.com", "paypal-partners.com"])
    assert m.technique == "tld-swap" and m.protected == "paypal.com"


def test_protected_idn_is_compared_in_unicode():
    m = find_lookalike("xn--mnchen-3ya.com", ["xn--mnchen-3ya.de"])
    assert m is not None and m.technique == "tld-swap" and m.unicode == "münchen.com"
    m = find_lookalike("munchen.de", ["xn--mnchen-3ya.de"])
    assert m is not None and m.technique == "homoglyph"  # ü folds to u


def test_lookalike_to_dict():
    m = find_lookalike("xn--pypal-4ve.com", PROTECTED)
    assert m.to_dict() == {"domain": "xn--pypal-4ve.com", "unicode": "pаypal.com", "protected": "paypal.com",
                           "technique": "homoglyph", "distance": 0}


def test_bad_punycode_is_an_error():
    with pytest.raises(ValueError):
        find_lookalike("xn--zz.com", PROTECTED)
