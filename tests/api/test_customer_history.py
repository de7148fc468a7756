"""A customer's earlier cases while logging a new one, found by contact or customer id — the raw
contact is never stored: cases keep a keyed hash (HMAC-SHA256 with the server's secret) of the
normalised contact, computed when the case is written."""

from __future__ import annotations

import hashlib

from sqlalchemy import text

from kb.privacy import normalize_contact
from tests.conftest import case_payload


def log(api, **overrides) -> dict:
    resp = api.post("/api/v1/cases", json=case_payload(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


def history(api, role="agent", **body):
    resp = api.post("/api/v1/customers/history", role=role, json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_same_contact_written_differently_finds_the_same_customer(api):
    first = log(api, contact="138 1234 5678", customer_id=None, subject="考勤打卡定位失败")
    second = log(api, contact="+86 13812345678", customer_id=None, subject="考勤报表导出乱码")
    log(api, contact="13900001111", customer_id=None, subject="别人的问题")
    mail = log(api, contact="Wang.Li@Example.com", customer_id=None, subject="发票邮箱收不到")

    found = history(api, contact="13812345678")
    assert [c["number"] for c in found["items"]] == [second["number"], first["number"]]   # newest first
    assert found["total"] == 2
    item = found["items"][0]
    assert set(item) >= {"number", "subject", "status", "type", "priority", "updated_at"}
    assert "contact" not in item and "contact_hash" not in item
    assert [c["number"] for c in history(api, contact=" wang.li@example.com ")["items"]] == [mail["number"]]
    assert history(api, contact="13700000000") == {"items": [], "total": 0}


def test_customer_id_finds_the_customers_cases_and_an_empty_query_is_refused(api):
    a = log(api, customer_id="C-HIST-1", contact=None)
    log(api, customer_id="C-HIST-2", contact=None)
    assert [c["number"] for c in history(api, customer_id="C-HIST-1")["items"]] == [a["number"]]
    resp = api.post("/api/v1/customers/history", json={})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] in {"contact", "customer_id"}


def test_only_a_keyed_hash_is_stored_never_the_contact(api):
    case = log(api, contact="13812345678")
    with api.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM \"case\" WHERE number = :n"), {"n": case["number"]}).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert "13812345678" not in stored and "12345678" not in stored
    plain_sha = hashlib.sha256(normalize_contact("13812345678").encode()).hexdigest()
    assert row["contact_hash"] and len(row["contact_hash"]) == 64
    assert row["contact_hash"] != plain_sha                 # keyed: the 10^10 phone numbers cannot be enumerated


def test_changing_the_contact_moves_the_case_to_the_new_customer(api):
    case = log(api, contact="13812345678")
    assert api.patch(f"/api/v1/cases/{case['number']}", json={"contact": "13698765432"}).status_code == 200
    assert history(api, contact="13812345678")["total"] == 0
    assert [c["number"] for c in history(api, contact="136 9876 5432")["items"]] == [case["number"]]


def test_normalised_forms():
    assert normalize_contact("+86 138-1234-5678") == normalize_contact("13812345678") == "13812345678"
    assert normalize_contact("0086 13812345678") == "13812345678"
    assert normalize_contact(" Wang.Li@Example.COM ") == "wang.li@example.com"
    assert normalize_contact("(010) 6552-1234") == normalize_contact("010-65521234") == "01065521234"
    assert normalize_contact("   ") is None and normalize_contact(None) is None
