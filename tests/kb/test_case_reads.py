"""Reading cases by id (``kb.cases.queries.get_many``) gives every column as the ORM would,
whichever way the backend is asked: on SQLite the rows come back as one JSON row, so the
conversions of stored values (enums, UTC datetimes, JSON lists, NULLs, text with quotes and
control-like characters) are checked here against the plain row-by-row read."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlmodel import select

from kb.cases import service
from kb.cases.queries import HIT_COLUMNS, RANKER_COLUMNS, get_many
from kb.models import Case, CaseFeedback, CaseStatus, Satisfaction
from tests.factories import later, make_case, make_resolved
from tests.kb.test_query_plans import selects_sent

EVERY_KIND = (Case.id, Case.number, Case.status, Case.satisfaction, Case.satisfaction_score, Case.tags,
              Case.attachments, Case.sla_explanation, Case.resolved_at, Case.updated_at, Case.reopen_count,
              Case.customer_kind, Case.description, Case.product)


def arrange(session, rules) -> list[int]:
    plain = make_resolved(session, rules, subject="打卡定位偏移", product="考勤")
    quoted = make_resolved(session, rules, subject='客户说"定位\\偏移"\t约500米', product=None,
                           description="第一行\n第二行 😀 “引号” \\u0041")
    service.record_feedback(session, quoted.number, CaseFeedback(satisfaction=Satisfaction.basically,
                                                                 feedback="还行"),
                            actor="liwei", rules=later(rules, hours=3))
    reopened = make_resolved(session, rules, subject="发票抬头错误")
    service.record_feedback(session, reopened.number, CaseFeedback(satisfaction=Satisfaction.dissatisfied,
                                                                   reopen=True),
                            actor="liwei", rules=later(rules, hours=3))
    pending = make_case(session, rules, subject="查询物流")
    session.commit()
    return [pending.id, reopened.id, 10_000_000, quoted.id, plain.id]


def test_every_column_reads_as_the_plain_read_gives_it(session, rules):
    ids = arrange(session, rules)
    for columns in (HIT_COLUMNS, RANKER_COLUMNS, EVERY_KIND):
        plain_read = select(*columns).where(Case.id.in_(ids))
        plain = {r.id: tuple(r) for r in session.connection().execute(plain_read)}
        read = get_many(session, ids, columns=columns)
        assert [r.id for r in read] == [i for i in ids if i in plain]
        assert [tuple(r) for r in read] == [plain[r.id] for r in read]
    rows = {r.id: r for r in get_many(session, ids, columns=EVERY_KIND)}
    quoted = rows[ids[3]]
    assert quoted.satisfaction is Satisfaction.basically and quoted.status is CaseStatus.resolved
    assert quoted.resolved_at.tzinfo is UTC and quoted.description.startswith("第一行\n第二行 😀")
    assert isinstance(quoted.tags, list) and isinstance(quoted.sla_explanation, dict)
    assert rows[ids[0]].resolved_at is None and rows[ids[0]].satisfaction is None


def test_statuses_keep_the_index_order_and_drop_what_is_no_longer_resolved(session, rules):
    pending, reopened, missing, quoted, plain = arrange(session, rules)
    read = get_many(session, [plain, pending, missing, reopened, quoted],
                    statuses=frozenset({CaseStatus.resolved, CaseStatus.closed}), columns=RANKER_COLUMNS)
    assert [r.id for r in read] == [plain, quoted]


def test_on_sqlite_the_rows_come_back_as_one_row(session, rules):
    ids = arrange(session, rules)
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("psycopg takes a result whole; only SQLite's driver steps row by row")
    read = []
    sent = selects_sent(session, lambda: read.extend(get_many(session, ids, columns=RANKER_COLUMNS)))
    assert len(read) == 4 and len(sent) == 1
    assert len(session.connection().exec_driver_sql(*sent[0]).fetchall()) == 1


def test_on_postgresql_any_count_of_ids_sends_the_same_statement(session, rules):
    """One array parameter, not one per id: the server can keep the statement prepared instead
    of parsing and planning it for every count of ids a ranking asks for."""
    ids = arrange(session, rules)
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite reads by id through one JSON row (the test above)")
    read: list = []
    sent = selects_sent(session, lambda: [read.extend(get_many(session, some, columns=RANKER_COLUMNS))
                                          for some in (ids[:2], ids)])
    assert [r.id for r in read] == [ids[0], ids[1], ids[0], ids[1], ids[3], ids[4]]
    assert len(sent) == 2 and sent[0][0] == sent[1][0]
    assert [len(p) for p in (sent[0][1], sent[1][1])] == [1, 1]        # the ids travel as one array
