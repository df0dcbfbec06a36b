import io
import os
import subprocess
import sys

import pytest

from email_security import check_domains

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = os.path.dirname(HERE)
BUNDLED = os.path.join(SERVICE, "data", "protected_domains.txt")


def test_bundled_list_is_valid():
    domains = check_domains.load(BUNDLED)
    assert "acmesecurity.com" in domains and len(domains) == len(set(domains))


def test_check_lines_accepts_comments_and_blanks():
    domains, errors = check_domains.check_lines(["# header", "", "acme.com  # ours", "  acmebank.co.uk",
                                                 "xn--mnchen-3ya.de"])
    assert domains == ["acme.com", "acmebank.co.uk", "xn--mnchen-3ya.de"] and errors == []


@pytest.mark.parametrize("line,msg", [
    ("Acme.com", "must be lower case"),
    ("münchen.de", "must be ASCII"),
    ("acme", "not a valid domain"),
    ("-acme.com", "not a valid domain"),
    ("mail.acme.com", "is a subdomain; list 'acme.com' instead"),
    ("xn--zz.com", "invalid punycode"),
])
def test_check_lines_rejects(line, msg):
    domains, errors = check_domains.check_lines(["ok.com", line])
    assert domains == ["ok.com"]
    assert len(errors) == 1 and errors[0][0] == 2 and msg in errors[0][1]


def test_duplicates_name_the_first_line():
    _, errors = check_domains.check_lines(["a.com", "b.com", "a.com"])
    assert errors == [(3, "'a.com' is already listed on line 1")]


def test_empty_list_is_an_error():
    assert check_domains.check_lines(["# nothing"]) == ([], [(0, "no protected domains listed")])


def test_load_raises_with_every_problem(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("Bad.com\nok.com\nok.com\n")
    with pytest.raises(ValueError) as err:
        check_domains.load(str(path))
    assert f"{path}:1:" in str(err.value) and f"{path}:3:" in str(err.value)


def run(args):
    out, err = io.StringIO(), io.StringIO()
    return check_domains.main(args, out, err), out.getvalue(), err.getvalue()


def test_main(tmp_path):
    code, out, err = run([BUNDLED])
    assert code == 0 and "protected domains OK" in out and err == ""
    bad = tmp_path / "bad.txt"
    bad.write_text("ok.com\nmail.ok.com\n")
    code, out, err = run([str(bad)])
    assert code == 1 and err == f"{bad}:2: 'mail.ok.com' is a subdomain; list 'ok.com' instead\n"
    code, _, err = run([str(tmp_path / "missing.txt")])
    assert code == 1 and "missing.txt" in err
    code, _, err = run([])
    assert code == 2 and "usage" in err


def test_runs_as_a_module():
    # what the pipeline's "domains" step runs
    proc = subprocess.run([sys.executable, "-m", "email_security.check_domains", BUNDLED],
                          cwd=SERVICE, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
