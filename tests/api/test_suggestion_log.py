"""The suggestion log is written in batches off the request path (kb.suggestion_log); these
check that acceptance stays exact whoever writes first, and that a clean stop loses nothing."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from kb.db import make_session
from kb.models import Role, SuggestionLog
from kb.settings import Settings
from kb.suggestion_log import SuggestionLogWriter, new_id
from tests.conftest import DATA_DIR, add_user, case_payload

DRAFT = {"subject": "考勤打卡失败", "description": "员工打卡提示不在范围内，要求撤销迟到记录"}


def _row(suggestion_id: str, *, type_label: str, priority_label: str) -> dict:
    """A served proposal as another process's writer holds it before its next flush."""
    return SuggestionLog(id=suggestion_id, created_at=datetime.now(UTC), actor="u_agent", model_version=None, source="rules",
        type_label=type_label, priority_label=priority_label, details={}).model_dump()


def _rows(engine) -> list[SuggestionLog]:
    with make_session(engine) as s:
        return list(s.exec(select(SuggestionLog)))


@contextmanager
def _served_here(db_url, tmp_path, clock):
    """(app, client, agent headers, a proposal) — served by this process, its row still pending."""
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url,
                        suggestion_log_flush_seconds=10, embedded_indexer=False, embedded_worker=False)
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {add_user(app.state.engine, 'u_agent', Role.agent)}"}
        yield app, client, headers, client.post("/api/v1/classify", json=DRAFT, headers=headers).json()


def test_a_case_saved_before_the_row_is_written_here_keeps_the_proposal(db_url, tmp_path, clock):
    """Served and saved by the same process within one flush interval."""
    with _served_here(db_url, tmp_path, clock) as (app, client, headers, sug):
        assert _rows(app.state.engine) == []              # not written on the request path
        other = "低" if sug["priority"]["label"] != "低" else "中"
        resp = client.post("/api/v1/cases", headers=headers, json=case_payload(
            type=sug["type"]["label"], priority=other, suggestion_id=sug["suggestion_id"]))
        assert resp.status_code == 201, resp.text
        [log] = _rows(app.state.engine)
        assert (log.type_label, log.type_accepted, log.priority_accepted) == (sug["type"]["label"], True, False)
    # the clean stop wrote the same row again: nothing changed
    [log] = _rows(app.state.engine)
    assert (log.type_label, log.priority_label) == (sug["type"]["label"], sug["priority"]["label"])
    assert (log.type_accepted, log.priority_accepted, log.source) == (True, False, "rules")


def test_a_case_saved_while_this_process_writes_the_row_links_to_it(db_url, tmp_path, clock, monkeypatch):
    """The writer keeps a row pending until its insert commits. A save that found no row, then
    found it pending, inserted a copy — and met the writer's committed row: a duplicate key,
    answered 409 (seen in CI on PostgreSQL). Simulated by committing the row, as the writer
    would, between the save's two looks. SQLite's write lock keeps the two apart."""
    from kb.cases import service

    if db_url.startswith("sqlite"):
        pytest.skip("SQLite: the save holds the write lock, so the writer cannot commit in between")
    with _served_here(db_url, tmp_path, clock) as (app, client, headers, sug):
        real = service.pending_row

        def writer_commits_first(suggestion_id):
            row = real(suggestion_id)
            if row is not None:
                with make_session(app.state.engine) as other:
                    other.execute(insert(SuggestionLog), [row])
                    other.commit()
            return row

        monkeypatch.setattr(service, "pending_row", writer_commits_first)
        resp = client.post("/api/v1/cases", headers=headers, json=case_payload(
            type=sug["type"]["label"], priority=sug["priority"]["label"], suggestion_id=sug["suggestion_id"]))
        assert resp.status_code == 201, resp.text
        [log] = _rows(app.state.engine)
        assert log.case_id is not None and (log.type_accepted, log.priority_accepted) == (True, True)


def test_a_case_saved_just_after_this_process_wrote_the_row_links_to_it(db_url, tmp_path, clock, monkeypatch):
    """The other order: the writer commits the row and drops it from its pending list between
    the save's first look (no row yet) and its look at what is pending (gone). The save took
    it for a row another process would still write and inserted the link alone: a duplicate
    key, answered 409 (seen in CI on PostgreSQL)."""
    from kb.cases import service

    if db_url.startswith("sqlite"):
        pytest.skip("SQLite: the save holds the write lock, so the writer cannot commit in between")
    with _served_here(db_url, tmp_path, clock) as (app, client, headers, sug):
        real = service.pending_row

        def writer_flushed_first(suggestion_id):
            if real(suggestion_id) is not None:
                assert app.state.suggestion_log.flush() == 1
            return real(suggestion_id)

        monkeypatch.setattr(service, "pending_row", writer_flushed_first)
        resp = client.post("/api/v1/cases", headers=headers, json=case_payload(
            type=sug["type"]["label"], priority=sug["priority"]["label"], suggestion_id=sug["suggestion_id"]))
        assert resp.status_code == 201, resp.text
        [log] = _rows(app.state.engine)
        assert log.source != "pending" and log.type_label == sug["type"]["label"]
        assert log.case_id is not None and (log.type_accepted, log.priority_accepted) == (True, True)


def test_a_case_saved_before_another_process_writes_the_row_gets_acceptance_when_it_arrives(api):
    elsewhere = SuggestionLogWriter(api.engine, flush_seconds=3600)    # never started here: another process
    suggestion_id = new_id()
    elsewhere.record(_row(suggestion_id, type_label="投诉", priority_label="高"))
    resp = api.post("/api/v1/cases", json=case_payload(type="投诉", priority="中", suggestion_id=suggestion_id))
    assert resp.status_code == 201, resp.text
    [link] = _rows(api.engine)
    assert (link.source, link.type_accepted, link.final_type, link.final_priority) == ("pending", None, "投诉", "中")
    assert elsewhere.flush() == 1
    [log] = _rows(api.engine)
    assert (log.source, log.type_label, log.priority_label) == ("rules", "投诉", "高")
    assert (log.type_accepted, log.priority_accepted, log.case_id) == (True, False, link.case_id)
    second = api.post("/api/v1/cases", json=case_payload(suggestion_id=suggestion_id))
    assert second.status_code == 422 and second.json()["errors"][0]["field"] == "suggestion_id"


def test_an_old_id_that_was_never_written_is_unknown(api):
    an_hour_ago = f"{int((time.time() - 3600) * 1000):012x}" + "ab" * 10
    resp = api.post("/api/v1/cases", json=case_payload(suggestion_id=an_hour_ago))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "suggestion_id"
    assert _rows(api.engine) == []


def test_a_clean_stop_writes_every_served_suggestion(db_url, tmp_path, clock):
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url,
                        suggestion_log_flush_seconds=10, embedded_indexer=False, embedded_worker=False)
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        engine = app.state.engine
        headers = {"Authorization": f"Bearer {add_user(engine, 'u_agent', Role.agent)}"}
        ids = [client.post("/api/v1/suggestions", json=DRAFT, headers=headers).json()["suggestion_id"]
               for _ in range(25)]
        assert _rows(engine) == []
    assert sorted(r.id for r in _rows(engine)) == sorted(ids)


def test_a_log_row_is_the_row_the_model_would_dump():
    from kb.suggestion_log import log_row

    values = dict(id=new_id(), created_at=datetime.now(UTC), actor="u_agent", model_version="m1",
                  source="model", type_label="咨询", type_confidence=0.71, details={"similar_cases": ["C-1"]})
    assert log_row(**values) == SuggestionLog(**values).model_dump()
    first, second = log_row(id=new_id(), created_at=datetime.now(UTC), actor="a"), \
        log_row(id=new_id(), created_at=datetime.now(UTC), actor="a")
    first["details"]["x"] = 1
    assert second["details"] == {}                       # no shared default
    with pytest.raises(TypeError, match="actor"):
        log_row(id=new_id(), created_at=datetime.now(UTC))
    with pytest.raises(TypeError, match="typo_label"):
        log_row(id=new_id(), created_at=datetime.now(UTC), actor="a", typo_label="咨询")
