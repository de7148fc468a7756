"""Case numbers: FW + date + 3-digit daily sequence, unique across processes; a stored case's
number is never handed out again, a rolled-back creation's number is (no gaps)."""

from __future__ import annotations

import multiprocessing
from datetime import datetime

from sqlmodel import select

from kb.cases.numbering import next_case_number
from kb.clock import DEFAULT_TZ
from kb.models import Case
from tests.factories import later, make_case


def test_first_number_of_the_day_matches_the_template(session, rules):
    assert make_case(session, rules).number == "FW20240521001"
    assert make_case(session, rules).number == "FW20240521002"


def test_sequence_restarts_each_local_day(session, rules):
    make_case(session, rules)
    # 16:30 UTC on 21 May is 00:30 on 22 May in Shanghai: a new local day.
    assert make_case(session, later(rules, hours=15)).number == "FW20240522001"


def test_a_rolled_back_number_is_drawn_again_and_a_stored_one_never(session, rules):
    stored = make_case(session, rules).number
    session.commit()
    drawn = next_case_number(session, prefix="FW", local_now=datetime(2024, 5, 21, tzinfo=DEFAULT_TZ))
    session.rollback()  # the case using `drawn` was never stored: nobody saw its number
    again = make_case(session, rules).number
    session.commit()
    after = make_case(session, rules).number
    assert (stored, drawn, again, after) == ("FW20240521001", "FW20240521002", "FW20240521002", "FW20240521003")


def test_prefix_is_configurable(session, rules):
    from dataclasses import replace

    assert make_case(session, replace(rules, number_prefix="SH")).number.startswith("SH20240521")


def test_more_than_999_a_day_widens_instead_of_failing(session):
    from sqlalchemy import text

    session.execute(text("INSERT INTO case_sequence (prefix, day, last_value) VALUES ('FW', '20240521', 999)"))
    session.commit()
    assert next_case_number(session, prefix="FW", local_now=datetime(2024, 5, 21, tzinfo=DEFAULT_TZ)) == "FW202405211000"


def _create_many(db_url: str, count: int, worker: int) -> list[str]:
    from kb.cases.service import rules_from_settings
    from kb.clock import FixedClock
    from kb.db import make_engine, make_session
    from kb.settings import Settings
    from tests.conftest import DATA_DIR, T0
    from tests.factories import make_case

    rules = rules_from_settings(Settings(data_dir=DATA_DIR), FixedClock(at=T0))
    engine = make_engine(db_url)
    numbers = []
    for i in range(count):
        with make_session(engine, write=True) as s:
            numbers.append(make_case(s, rules, subject=f"并发登记 {worker}-{i}").number)
    engine.dispose()
    return numbers


def test_numbers_are_unique_under_concurrent_creation_from_two_processes(engine, db_url):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.starmap(_create_many, [(db_url, 25, 0), (db_url, 25, 1)])
    numbers = results[0] + results[1]
    assert len(set(numbers)) == 50
    assert sorted(numbers) == [f"FW20240521{i:03d}" for i in range(1, 51)]
    with engine.connect() as conn:
        stored = conn.execute(select(Case.number)).scalars().all()
    assert sorted(stored) == sorted(numbers)
