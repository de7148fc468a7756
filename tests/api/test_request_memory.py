"""What the request path remembers between requests (kb.recent, kb.cases.bursts) is forgotten
when it changes: at once in this process, within ``cache_seconds`` when another process
changed it (simulated by a plain SQL statement, which passes no hook of this process)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, update

from kb import recent
from kb.db import session_scope
from kb.models import ApiKey, Label
from tests.conftest import case_payload, wait_for

BURST = "同类问题集中爆发"


@pytest.fixture
def remember_long():
    """Memos that would outlive the test: only forgetting on commit can make them see a change."""
    recent.configure(600)
    yield
    recent.configure(recent.DEFAULT_SECONDS)
DRAFT = {"subject": "门店收银机打印小票乱码", "description": "门店收银机今天开始打印出来的小票全是乱码，重启也不行"}


def _burst_fired(api) -> bool:
    body = api.post("/api/v1/classify", json=DRAFT).json()
    return any(r["rule"] == BURST for r in body["priority"]["rules_fired"])


def test_the_burst_rule_sees_open_cases_saved_a_moment_ago(api, remember_long):
    assert not _burst_fired(api)                   # remembered: no similar open case yet
    for subject, description in (("收银机打印小票乱码", "门店的收银机今天打印出来的小票全是乱码，重启也不行"),
                                 ("门店小票打印乱码", "收银机今天开始打印的小票全是乱码，重启了也不行"),
                                 ("收银机小票乱码", "门店收银机从今天开始打印出来的小票都是乱码，重启不行")):
        resp = api.post("/api/v1/cases", json=case_payload(subject=subject, description=description))
        assert resp.status_code == 201
    assert _burst_fired(api)                       # three similar open cases, seen at once


def test_cases_saved_here_change_the_burst_count_without_reading_the_open_cases_again(api, remember_long):
    # re-reading the newest open cases after every save here was ~5 % of a web worker at 20 saves/s
    assert not _burst_fired(api)                   # the snapshot is read once, here
    reads = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY" in statement.upper() \
                and "received_at DESC" in statement:
            reads.append(statement)

    event.listen(api.engine, "before_cursor_execute", grab)
    try:
        numbers = [api.post("/api/v1/cases", json=case_payload(subject=subject, description=description))
                   .json()["number"] for subject, description in (
                       ("收银机打印小票乱码", "门店的收银机今天打印出来的小票全是乱码，重启也不行"),
                       ("门店小票打印乱码", "收银机今天开始打印的小票全是乱码，重启了也不行"),
                       ("收银机小票乱码", "门店收银机从今天开始打印出来的小票都是乱码，重启不行"))]
        assert _burst_fired(api)                   # three similar open cases, counted at once
        resolved = api.post(f"/api/v1/cases/{numbers[0]}/resolve",
                            json={"solution_temp": "已远程重装打印驱动", "result": "已解决"})
        assert resolved.status_code == 200, resolved.text
        assert not _burst_fired(api)               # two are left open
    finally:
        event.remove(api.engine, "before_cursor_execute", grab)
    assert reads == []


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_period(api):
    headers = {"Authorization": api.as_("agent")["Authorization"]}
    assert api.client.get("/api/v1/me", headers=headers).status_code == 200     # now remembered
    prefix = api.keys["agent"].split("_")[1]
    with session_scope(api.engine, write=True) as s:                             # "another process"
        s.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(revoked_at=datetime.now(UTC)))
        s.commit()
    assert wait_for(lambda: api.client.get("/api/v1/me", headers=headers).status_code == 401, timeout=10), \
        "a key revoked elsewhere still works"


def _source(api) -> str:
    return api.post("/api/v1/classify", json=DRAFT).json()["type"]["source"]


def test_a_type_added_here_is_known_to_proposals_at_once(api_model, remember_long):
    assert _source(api_model) == "model"                  # the active types are now remembered
    resp = api_model.post("/api/v1/taxonomy/type", role="admin", json={"code": "退换货", "name": "退换货"})
    assert resp.status_code == 201, resp.text
    assert _source(api_model) == "rules"                  # a type the model never learned: cold start


def test_a_type_added_elsewhere_is_known_to_proposals_within_the_cache_period(api_model):
    assert _source(api_model) == "model"
    with session_scope(api_model.engine, write=True) as s:
        s.execute(insert(Label), [{"kind": "type", "code": "退换货", "name": "退换货", "description": "",
                                   "sort_order": 99, "active": True}])
        s.commit()
    assert wait_for(lambda: _source(api_model) == "rules", timeout=10), "a type added elsewhere is still unknown"
