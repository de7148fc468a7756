"""Queries that run under load read through an index, not the whole case table.

Both were found during a 20,000-row import at 100k cases (bench/write_load.py): the burst
rule's snapshot of recent open cases walked every open case (48 ms, re-read after each save),
and the import's duplicate re-check scanned the table inside its write transaction (0.2 s
per 50-row chunk, with SQLite's write lock held). SQLite's own plan says which it does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from kb.cases import sheet_import
from kb.cases.bursts import OpenSnapshot
from kb.models import CaseImport
from tests.factories import make_case


@pytest.fixture
def sqlite_session(session, segmenter):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the plans checked are SQLite's (PostgreSQL plans by statistics)")
    return session


def selects_sent(session, run) -> list[tuple]:
    """(statement, parameters) of every SELECT that ``run`` sends."""
    engine = session.get_bind().engine
    sent = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return sent


def plans_of(session, run) -> list[str]:
    """SQLite's query plan of every SELECT that ``run`` sends, one string each."""
    sent = selects_sent(session, run)
    connection = session.connection()
    return [" / ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                     parameters).fetchall())
            for statement, parameters in sent]


def test_the_import_recheck_finds_a_stored_duplicate_through_the_contact_time_index(sqlite_session, rules):
    stored = make_case(sqlite_session, rules, customer_name="宁波甬兴贸易有限公司", subject="变更发票抬头")
    local = stored.contact_at.astimezone(rules.clock.tz)
    checks = []
    for row, (subject, at) in enumerate([("变更发票抬头", local), ("变更发票抬头", local + timedelta(minutes=1)),
                                         ("查询订单物流", local)], start=1):
        data = CaseImport.model_validate({"contact_at": at.replace(tzinfo=None), "channel": "电话",
                                          "customer_name": "宁波甬兴贸易有限公司", "subject": subject,
                                          "description": "公司更名，申请修改发票抬头", "type": "变更", "priority": "低"})
        checks.append(sheet_import.RowCheck(row=row, data=data, key=(data.customer_name, at.replace(tzinfo=None),
                                                                      subject)))

    plans = plans_of(sqlite_session, lambda: sheet_import.recheck_stored(sqlite_session, checks, rules.clock.tz))

    assert [c.data is None for c in checks] == [True, False, False]     # only the same minute and subject
    assert stored.number in checks[0].errors[0]["reason"]
    assert plans and all("SCAN case" not in plan and "USING INDEX ix_case_contact_at" in plan for plan in plans), plans


def test_the_burst_snapshot_reads_recent_open_cases_through_an_index_on_their_received_time(sqlite_session, rules):
    make_case(sqlite_session, rules, subject="考勤打卡定位失败")
    since = rules.clock.now() - timedelta(hours=2)
    snapshots = []

    plans = plans_of(sqlite_session, lambda: snapshots.append(OpenSnapshot.read(sqlite_session, since, "v")))

    assert len(snapshots[0]) == 1
    assert len(plans) == 1 and "received_at>" in plans[0] and "SCAN case" not in plans[0], plans


def test_a_search_hit_read_looks_each_id_up_by_its_primary_key(sqlite_session, rules):
    # the ids come as one JSON array (one statement text for any count of ids); a plan that
    # scanned the case table for them would cost a suggestion ~100 ms at 100k cases
    from kb.cases.queries import RANK_COLUMNS, get_many

    cases = [make_case(sqlite_session, rules, subject=s) for s in ("考勤打卡定位失败", "发票抬头变更", "门锁绑定失败")]
    wanted = [cases[2].id, cases[0].id]
    found = []
    plans = plans_of(sqlite_session, lambda: found.extend(get_many(sqlite_session, wanted, columns=RANK_COLUMNS)))

    assert [r.id for r in found] == wanted
    assert [r.subject for r in found] == ["门锁绑定失败", "考勤打卡定位失败"]
    assert plans and all("SCAN case" not in plan and "INTEGER PRIMARY KEY" in plan for plan in plans), plans
