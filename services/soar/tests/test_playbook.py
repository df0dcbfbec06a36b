import copy

import pytest

from soar.playbook import Playbook, PlaybookError, Step, TemplateError, evaluate, render, resolve

BASE = {
    "name": "pb",
    "steps": [
        {"id": "enrich", "action": "enrich", "params": {"observable": "{{alert.ip}}"}},
        {"id": "block", "action": "block",
         "when": {"path": "steps.enrich.result.verdict", "op": "eq", "value": "malicious"},
         "on_failure": "escalate"},
    ],
    "branches": {"escalate": [{"id": "page", "action": "notify"}]},
}


def doc(**changes):
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def test_parse_defaults_and_branches():
    pb = Playbook.from_dict(BASE)
    assert pb.name == "pb"
    assert [s.id for s in pb.steps] == ["enrich", "block"]
    enrich = pb.steps[0]
    assert (enrich.retries, enrich.backoff, enrich.backoff_factor, enrich.max_backoff,
            enrich.timeout, enrich.on_failure) == (0, 1.0, 2.0, 60.0, 30.0, "abort")
    assert pb.steps[1].on_failure == "escalate"
    assert [s.id for s in pb.branches["escalate"]] == ["page"]
    assert pb.actions() == {"enrich", "block", "notify"}


@pytest.mark.parametrize("retry,delay", [(1, 2.0), (2, 6.0), (3, 18.0), (4, 30.0), (9, 30.0)])
def test_backoff_is_exponential_and_capped(retry, delay):
    step = Step("s", "a", backoff=2.0, backoff_factor=3.0, max_backoff=30.0)
    assert step.delay(retry) == delay


def test_constant_backoff_with_factor_one():
    step = Step("s", "a", backoff=5.0, backoff_factor=1.0)
    assert [step.delay(n) for n in (1, 2, 3)] == [5.0, 5.0, 5.0]


def step_doc(**fields):
    return doc(steps=[{"id": "s", "action": "a", **fields}], branches={})


@pytest.mark.parametrize("data,msg", [
    ([], "JSON object"),
    (doc(name=" "), "name"),
    (doc(extra=1), "unknown playbook field"),
    (doc(steps=[]), "non-empty list"),
    (doc(steps={"id": "x"}), "non-empty list"),
    (doc(branches=[]), "branches must be an object"),
    (doc(branches={"Bad Name": [{"id": "p", "action": "notify"}]}), "branch name"),
    (doc(branches={"escalate": []}), "non-empty list"),
    (step_doc(colour="red"), "unknown field"),
    (doc(steps=["enrich"]), "must be an object"),
    (doc(steps=[{"action": "a"}]), "id must match"),
    (doc(steps=[{"id": "Has Space", "action": "a"}]), "id must match"),
    (doc(steps=[{"id": "s"}]), "action is required"),
    (step_doc(params=[]), "params must be an object"),
    (doc(steps=[{"id": "a", "action": "x"}, {"id": "a", "action": "y"}]), "duplicate step id"),
    (doc(branches={"escalate": [{"id": "enrich", "action": "notify"}]}), "duplicate step id"),
    (step_doc(retries=-1), "retries"),
    (step_doc(retries=11), "retries"),
    (step_doc(retries=1.5), "retries"),
    (step_doc(retries=True), "retries"),
    (step_doc(timeout=0), "timeout"),
    (step_doc(timeout=3601), "timeout"),
    (step_doc(timeout="5"), "timeout must be a number"),
    (step_doc(backoff=-1), "backoff"),
    (step_doc(backoff_factor=0.5), "backoff_factor"),
    (step_doc(max_backoff=True), "max_backoff"),
    (step_doc(on_failure="escalate"), "abort or continue"),
    (doc(branches={"escalate": [{"id": "p", "action": "n", "on_failure": "escalate"}]}), "abort or continue"),
    (doc(steps=[{"id": "b", "action": "x", "on_failure": "nope"}]), "abort, continue or a branch name"),
])
def test_invalid_playbooks(data, msg):
    with pytest.raises(PlaybookError, match=msg):
        Playbook.from_dict(data)


@pytest.mark.parametrize("when,msg", [
    ("yes", "must be an object"),
    ({"all": []}, "non-empty list"),
    ({"any": "x"}, "non-empty list"),
    ({"all": [{"path": "alert.x", "op": "eq"}]}, "takes exactly"),
    ({"not": {"path": "alert.x", "op": "like", "value": 1}}, "op must be one of"),
    ({"path": "alert.x", "op": "exists", "value": 1}, "takes exactly"),
    ({"path": "", "op": "eq", "value": 1}, "path must be a non-empty"),
    ({"path": "alert.x", "op": "in", "value": "abc"}, "needs a list"),
    ({"path": "env.x", "op": "eq", "value": 1}, "alert. or steps."),
    ({"path": "steps", "op": "exists"}, "has not run yet"),
    ({"path": "steps.later.status", "op": "eq", "value": "succeeded"}, "has not run yet"),
    ({"path": "steps.s.status", "op": "eq", "value": "succeeded"}, "has not run yet"),  # itself
])
def test_invalid_conditions(when, msg):
    data = doc(steps=[{"id": "s", "action": "a", "when": when}, {"id": "later", "action": "a"}], branches={})
    with pytest.raises(PlaybookError, match=msg):
        Playbook.from_dict(data)


def test_branch_conditions_see_main_steps_and_earlier_branch_steps():
    data = doc(branches={"escalate": [
        {"id": "page", "action": "notify", "when": {"path": "steps.block.status", "op": "eq", "value": "failed"}},
        {"id": "t", "action": "ticket", "when": {"path": "steps.page.status", "op": "exists"}},
    ]})
    assert len(Playbook.from_dict(data).branches["escalate"]) == 2


CTX = {
    "alert": {"ip": "1.2.3.4", "score": 70, "tags": ["phish", "vip"], "user": {"name": "bob"},
              "subject": "Invoice overdue", "flag": False, "none": None},
    "steps": {"enrich": {"status": "succeeded", "result": {"verdict": "malicious", "score": 90}}},
}


@pytest.mark.parametrize("cond,expected", [
    ({"path": "alert.ip", "op": "eq", "value": "1.2.3.4"}, True),
    ({"path": "alert.ip", "op": "eq", "value": "1.2.3.5"}, False),
    ({"path": "alert.ip", "op": "ne", "value": "1.2.3.5"}, True),
    ({"path": "alert.ip", "op": "ne", "value": "1.2.3.4"}, False),
    ({"path": "alert.missing", "op": "ne", "value": "x"}, False),  # missing never compares
    ({"path": "alert.missing", "op": "eq", "value": None}, False),
    ({"path": "alert.none", "op": "eq", "value": None}, True),
    ({"path": "alert.score", "op": "gt", "value": 69}, True),
    ({"path": "alert.score", "op": "gt", "value": 70}, False),
    ({"path": "alert.score", "op": "gte", "value": 70}, True),
    ({"path": "alert.score", "op": "gte", "value": 71}, False),
    ({"path": "alert.score", "op": "lt", "value": 71}, True),
    ({"path": "alert.score", "op": "lt", "value": 70}, False),
    ({"path": "alert.score", "op": "lte", "value": 70}, True),
    ({"path": "alert.score", "op": "lte", "value": 69.5}, False),
    ({"path": "alert.score", "op": "gt", "value": "50"}, False),  # no number/string mixing
    ({"path": "alert.flag", "op": "lt", "value": 1}, False),  # a bool is not a number
    ({"path": "alert.ip", "op": "gt", "value": "1.2.3.0"}, True),  # strings order as strings
    ({"path": "alert.ip", "op": "in", "value": ["1.2.3.4", "5.6.7.8"]}, True),
    ({"path": "alert.ip", "op": "in", "value": ["5.6.7.8"]}, False),
    ({"path": "alert.ip", "op": "not_in", "value": ["5.6.7.8"]}, True),
    ({"path": "alert.ip", "op": "not_in", "value": ["1.2.3.4"]}, False),
    ({"path": "alert.missing", "op": "not_in", "value": ["x"]}, False),
    ({"path": "alert.tags", "op": "contains", "value": "vip"}, True),
    ({"path": "alert.tags", "op": "contains", "value": "ceo"}, False),
    ({"path": "alert.subject", "op": "contains", "value": "Invoice"}, True),
    ({"path": "alert.subject", "op": "contains", "value": "invoice"}, False),
    ({"path": "alert.score", "op": "contains", "value": 7}, False),
    ({"path": "alert.subject", "op": "contains", "value": 1}, False),
    ({"path": "alert.user.name", "op": "exists"}, True),
    ({"path": "alert.user.email", "op": "exists"}, False),
    ({"path": "alert.tags.1", "op": "eq", "value": "vip"}, True),
    ({"path": "alert.tags.2", "op": "exists"}, False),
    ({"path": "steps.enrich.result.verdict", "op": "eq", "value": "malicious"}, True),
    ({"path": "steps.block.status", "op": "exists"}, False),
    ({"all": [{"path": "alert.score", "op": "gte", "value": 50},
              {"path": "alert.tags", "op": "contains", "value": "vip"}]}, True),
    ({"all": [{"path": "alert.score", "op": "gte", "value": 50},
              {"path": "alert.tags", "op": "contains", "value": "ceo"}]}, False),
    ({"any": [{"path": "alert.score", "op": "gte", "value": 90},
              {"path": "alert.tags", "op": "contains", "value": "vip"}]}, True),
    ({"any": [{"path": "alert.score", "op": "gte", "value": 90},
              {"path": "alert.tags", "op": "contains", "value": "ceo"}]}, False),
    ({"not": {"path": "alert.user.email", "op": "exists"}}, True),
    ({"not": {"path": "alert.ip", "op": "exists"}}, False),
])
def test_evaluate(cond, expected):
    assert evaluate(cond, CTX) is expected


def test_resolve_through_lists_and_non_containers():
    assert resolve("alert.tags.0", CTX) == "phish"
    assert resolve("alert.ip.x", CTX) is resolve("alert.nope", CTX)
    assert resolve("alert.tags.x", CTX) is resolve("alert.nope", CTX)


@pytest.mark.parametrize("value,expected", [
    ("{{alert.ip}}", "1.2.3.4"),
    ("{{ alert.score }}", 70),  # a whole template keeps the type
    ("{{alert.tags}}", ["phish", "vip"]),
    ("ip={{alert.ip}} score={{alert.score}}", "ip=1.2.3.4 score=70"),
    ("flag={{alert.flag}} none=[{{alert.none}}]", "flag=false none=[]"),
    ("{{steps.enrich.result.verdict}}!", "malicious!"),
    ({"nested": ["{{alert.user.name}}", 3, None]}, {"nested": ["bob", 3, None]}),
    ("no templates", "no templates"),
    (42, 42),
])
def test_render(value, expected):
    assert render(value, CTX) == expected


@pytest.mark.parametrize("value", ["{{alert.nope}}", "x {{steps.block.result}}"])
def test_render_missing_value_is_an_error(value):
    with pytest.raises(TemplateError, match="no such value"):
        render(value, CTX)
