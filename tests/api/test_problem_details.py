"""Bad input on every write route: a 4xx problem body naming the field, and the DB unchanged."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from kb.db import make_session
from kb.models import ApiKey, Case, CaseHistory, Label, User
from tests.conftest import case_payload

# the search outbox is left out: the embedded index writer drains it concurrently
TABLES = (Case, CaseHistory, Label, User, ApiKey)


def snapshot(api) -> tuple:
    with make_session(api.engine) as s:
        counts = tuple(s.exec(select(func.count()).select_from(t)).one() for t in TABLES)
        rows = tuple(s.exec(select(Case.number, Case.status, Case.subject, Case.priority, Case.updated_at)).all())
    return counts, rows


@pytest.fixture
def number(api) -> str:
    return api.post("/api/v1/cases", json=case_payload()).json()["number"]


def _cases(number: str) -> list[tuple]:
    """(method, url, role, payload, expected field) — wrong type, missing field, over-long field, unknown code."""
    long = "长" * 6000
    return [
        ("post", "/api/v1/cases", "agent", case_payload(priority=3), "priority"),
        ("post", "/api/v1/cases", "agent", {k: v for k, v in case_payload().items() if k != "subject"}, "subject"),
        ("post", "/api/v1/cases", "agent", case_payload(description=long), "description"),
        ("post", "/api/v1/cases", "agent", case_payload(type="咨讯"), "type"),
        ("post", "/api/v1/cases", "agent", case_payload(contact_at="昨天下午"), "contact_at"),
        ("post", "/api/v1/cases", "agent", case_payload(customer_kind="外星客户"), "customer_kind"),
        ("post", "/api/v1/cases", "agent", case_payload(tags=["x" * 40]), "tags.0"),
        ("post", "/api/v1/cases", "agent", {**case_payload(), "secret": 1}, "secret"),
        ("patch", f"/api/v1/cases/{number}", "agent", {"priority": ["高"]}, "priority"),
        ("patch", f"/api/v1/cases/{number}", "agent", {"subject": "s" * 201}, "subject"),
        ("patch", f"/api/v1/cases/{number}", "agent", {"channel": "飞鸽传书"}, "channel"),
        ("patch", f"/api/v1/cases/{number}", "agent", {"subject": None}, "subject"),
        ("post", f"/api/v1/cases/{number}/transitions", "agent", {"status": "完成"}, "status"),
        ("post", f"/api/v1/cases/{number}/transitions", "agent", {}, "status"),
        ("post", f"/api/v1/cases/{number}/transitions", "agent", {"status": "处理中", "note": long}, "note"),
        ("post", f"/api/v1/cases/{number}/resolve", "agent", {"solution_temp": "x"}, "result"),
        ("post", f"/api/v1/cases/{number}/resolve", "agent", {"result": 5, "solution_temp": "x"}, "result"),
        ("post", f"/api/v1/cases/{number}/resolve", "agent", {"result": "ok", "solution_perm": long}, "solution_perm"),
        ("post", f"/api/v1/cases/{number}/feedback", "agent", {"nps_score": 11}, "nps_score"),
        ("post", f"/api/v1/cases/{number}/feedback", "agent", {"satisfaction_score": "很好"}, "satisfaction_score"),
        ("post", f"/api/v1/cases/{number}/feedback", "agent", {"feedback": long}, "feedback"),
        ("post", "/api/v1/taxonomy/type", "admin", {"code": "咨询", "name": "咨询"}, "code"),
        ("post", "/api/v1/taxonomy/type", "admin", {"name": "新类型"}, "code"),
        ("post", "/api/v1/taxonomy/type", "admin", {"code": "x" * 40, "name": "n"}, "code"),
        ("post", "/api/v1/taxonomy/type", "admin", {"code": "售后", "name": "售后", "route_group": "火星组"}, "route_group"),
        ("post", "/api/v1/taxonomy/color", "admin", {"code": "红", "name": "红"}, "kind"),
        ("patch", "/api/v1/taxonomy/type/咨询", "admin", {"sort_order": "first"}, "sort_order"),
        ("patch", "/api/v1/taxonomy/type/咨询", "admin", {"name": "n" * 65}, "name"),
        ("post", "/api/v1/users", "admin", {"username": "li wei", "display_name": "李伟", "role": "agent"}, "username"),
        ("post", "/api/v1/users", "admin", {"username": "liwei2", "display_name": "李伟"}, "role"),
        ("post", "/api/v1/users", "admin", {"username": "liwei2", "display_name": "李" * 40, "role": "agent"},
         "display_name"),
        ("post", "/api/v1/users", "admin", {"username": "u_agent", "display_name": "重复", "role": "agent"}, "username"),
        ("patch", "/api/v1/users/u_agent", "admin", {"role": "boss"}, "role"),
        ("post", "/api/v1/users/u_agent/keys", "admin", {"note": "n" * 201}, "note"),
        ("post", "/api/v1/sla/preview", "agent", {"priority": "P9"}, "priority"),
        ("post", "/api/v1/classify", "agent", {"subject": "打卡失败"}, "description"),
        ("post", "/api/v1/classify", "agent", {"description": long}, "description"),
        ("post", "/api/v1/classify", "agent", {"description": "x", "key_customer": "是的"}, "key_customer"),
        ("post", "/api/v1/models/train", "analyst", {"C": -1}, "C"),
        ("post", "/api/v1/models/train", "analyst", {"char_ngram_max": "三"}, "char_ngram_max"),
        ("post", "/api/v1/models/rollback", "analyst", None, "version"),
        ("post", "/api/v1/dictionary", "knowledge_manager", {"kind": "typo", "term": "登陆"}, "canonical"),
        ("post", "/api/v1/dictionary", "knowledge_manager", {"kind": "word", "term": "词" * 40}, "term"),
        ("post", "/api/v1/dictionary", "knowledge_manager", {"kind": "stopword", "term": "的"}, "kind"),
        ("post", "/api/v1/dictionary", "knowledge_manager", {"kind": "word", "term": "打卡"}, "term"),
        ("post", "/api/v1/sla/preview", "agent", {"priority": "中", "received_at": 12.5e20}, "received_at"),
    ]


@pytest.mark.parametrize("idx", range(len(_cases("X"))))
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(api, number, idx):
    method, url, role, payload, field = _cases(number)[idx]
    before = snapshot(api)
    resp = getattr(api, method)(url, role=role, json=payload)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == resp.status_code
    assert field in [e["field"] for e in body["errors"]], body
    assert snapshot(api) == before


def test_malformed_json_is_422_problem(api):
    resp = api.client.post("/api/v1/cases", content=b"{not json", headers={**api.as_("agent"),
                                                                           "content-type": "application/json"})
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")


def test_unknown_route_is_404_problem(api):
    resp = api.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.json()["status"] == 404


def test_bad_query_parameter_names_the_parameter(api):
    resp = api.get("/api/v1/cases", params={"page_size": 1000})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "page_size"
