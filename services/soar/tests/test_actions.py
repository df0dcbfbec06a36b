import threading

import pytest

from soar.actions import Connectors
from soar.runner import ActionError


@pytest.fixture
def conn():
    return Connectors(known_bad=[" Evil.COM ", "185.220.101.4", ""])


@pytest.mark.parametrize("observable,verdict,score", [
    ("evil.com", "malicious", 90),
    ("EVIL.com", "malicious", 90),
    ("185.220.101.4", "malicious", 90),
    ("example.org", "unknown", 10),
    ("10.1.2.3", "internal", 0),
    ("127.0.0.1", "internal", 0),
])
def test_enrich(conn, observable, verdict, score):
    result = conn.enrich({"observable": observable}, {})
    assert (result["verdict"], result["score"]) == (verdict, score)


def test_block_is_idempotent_and_refuses_internal(conn):
    assert conn.block({"observable": "Evil.com"}, {}) == {"blocked": "evil.com", "target": "firewall",
                                                         "already_blocked": False}
    assert conn.block({"observable": "evil.com", "target": "dns"}, {})["already_blocked"] is True
    assert conn.blocklist == {"evil.com": "firewall"}
    with pytest.raises(ActionError) as err:
        conn.block({"observable": "192.168.1.10"}, {})
    assert err.value.retryable is False and "internal" in str(err.value)


def test_notify_and_ticket(conn):
    assert conn.notify({"message": "hi"}, {}) == {"delivered": True, "channel": "soc", "message_id": 1}
    assert conn.notify({"message": "x", "channel": "pager"}, {})["message_id"] == 2
    assert conn.ticket({"title": "t"}, {}) == {"ticket": "SEC-1001", "severity": "medium"}
    assert conn.ticket({"title": "u", "severity": "critical"}, {})["ticket"] == "SEC-1002"
    state = conn.state()
    assert [m["channel"] for m in state["outbox"]] == ["soc", "pager"]
    assert state["tickets"]["SEC-1002"] == {"title": "u", "severity": "critical"}


@pytest.mark.parametrize("action,params,msg", [
    ("enrich", {}, "observable"),
    ("block", {"observable": "  "}, "observable"),
    ("notify", {"message": "x", "channel": "sms"}, "unknown channel"),
    ("notify", {"message": 3}, "message"),
    ("ticket", {"title": "t", "severity": "urgent"}, "severity"),
    ("ticket", {}, "title"),
])
def test_bad_params_are_permanent_errors(conn, action, params, msg):
    with pytest.raises(ActionError, match=msg) as err:
        conn.handlers()[action](params, {})
    assert err.value.retryable is False


def test_ticket_ids_are_unique_under_concurrency(conn):
    threads = [threading.Thread(target=conn.ticket, args=({"title": str(i)}, {})) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(conn.tickets) == 50
