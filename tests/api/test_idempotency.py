"""POST /api/v1/cases under an Idempotency-Key: a second click or a retry returns the case
the first one created; never a duplicate, and a key reused for other content is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import func, select

from kb.cases.service import prune_idempotency_keys
from kb.db import make_session
from kb.models import Case, IdempotencyKey, Role
from tests.conftest import add_user, case_payload


def count(api) -> int:
    with make_session(api.engine) as s:
        return s.exec(select(func.count()).select_from(Case)).one()


def post(api, key: str | None, role="agent", **overrides):
    headers = api.as_(role) | ({"Idempotency-Key": key} if key else {})
    return api.client.post("/api/v1/cases", json=case_payload(**overrides), headers=headers)


def test_the_same_key_twice_returns_the_first_case(api):
    first = post(api, "form-7f3a")
    again = post(api, "form-7f3a")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["number"] == first.json()["number"] and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(api) == 1
    assert post(api, "form-8b21").json()["number"] != first.json()["number"]      # a new key: a new case
    assert post(api, None).status_code == 201 and count(api) == 3                 # no key: as before


def test_a_double_click_at_the_same_moment_creates_one_case(api):
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post(api, "double-click-1"), range(6)))
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
    assert len({r.json()["number"] for r in answers}) == 1
    assert count(api) == 1


def test_a_key_reused_for_other_content_is_refused_and_keys_are_per_user(api):
    assert post(api, "k-1", subject="发票抬头写错了").status_code == 201
    other = post(api, "k-1", subject="考勤打卡定位失败")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "idempotency-key"
    assert count(api) == 1
    colleague = add_user(api.engine, "agent_b", Role.agent)
    theirs = api.client.post("/api/v1/cases", json=case_payload(subject="发票抬头写错了"),
                             headers={"Authorization": f"Bearer {colleague}", "Idempotency-Key": "k-1"})
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers and count(api) == 2


def test_a_malformed_key_is_a_422_naming_the_header(api):
    resp = post(api, "x" * 201)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count(api) == 0


def test_keys_older_than_a_day_are_forgotten(api):
    post(api, "old-key")
    with make_session(api.engine, write=True) as s:
        row = s.exec(select(IdempotencyKey)).one()
        cutoff = row.created_at + timedelta(seconds=1)
        assert prune_idempotency_keys(s, older_than=cutoff) == 1
    assert post(api, "old-key").status_code == 201 and count(api) == 2

