"""SLA due times on the Chinese business calendar: holidays skipped, 调休 weekends counted."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kb.settings import PROJECT_ROOT
from kb.sla import SlaEngine, SlaPolicy

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def engine() -> SlaEngine:
    return SlaEngine(SlaPolicy.from_toml(PROJECT_ROOT / "data" / "sla.default.toml"), TZ)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def test_high_priority_counts_calendar_hours_even_on_national_day(engine):
    due = engine.due("高", at(2024, 10, 1, 10, 0))
    assert due["response"].due_at == at(2024, 10, 1, 14, 0)
    assert due["resolution"].due_at == at(2024, 10, 2, 10, 0)


def test_medium_response_before_national_day_skips_the_whole_holiday(engine):
    # Mon 30 Sep 16:00: 2 h left that day (16–18), then 国庆 1–7 Oct off, 5.5 h on Tue 8 Oct.
    due = engine.due("中", at(2024, 9, 30, 16, 0))["response"]
    assert due.due_at == at(2024, 10, 8, 16, 0)
    assert due.explanation["skipped"] == [{"reason": "国庆节", "from": "2024-10-01", "to": "2024-10-07", "days": 7}]
    assert "国庆节" in due.explanation["text"]


def test_national_day_makeup_saturday_counts_as_working_day(engine):
    # Fri 11 Oct 2024 17:00 + 3 working days: Sat 12 Oct is a 调休 working day, Sun 13 Oct off.
    due = engine.due("低", at(2024, 10, 11, 17, 0))["response"]
    assert due.explanation["makeup_workdays"] == ["2024-10-12"]
    assert due.due_at == at(2024, 10, 15, 17, 0)
    assert "调休" in due.explanation["text"]


def test_spring_festival_2025_with_makeup_sunday_before(engine):
    # Sun 26 Jan 2025 is a make-up working day; 春节 28 Jan–4 Feb off; Sat 8 Feb working again.
    due = engine.due("中", at(2025, 1, 26, 10, 0))["resolution"]
    assert due.explanation["makeup_workdays"][0] == "2025-01-26"
    reasons = {g["reason"] for g in due.explanation["skipped"]}
    assert "春节" in reasons
    # 26 Jan (10:00–18:00 = 6.5 h) + 27 Jan (7.5 h) + 5 Feb (7.5 h) + 1 h on 6 Feb → 10:00
    assert due.due_at == at(2025, 2, 6, 10, 0)


def test_outside_business_hours_the_clock_starts_next_working_morning(engine):
    due = engine.due("中", at(2024, 5, 18, 22, 0))["response"]   # Saturday night
    assert due.explanation["clock_started"] == at(2024, 5, 20, 9, 0).isoformat()
    assert due.due_at == at(2024, 5, 20, 18, 0)


def test_lunch_break_is_not_business_time(engine):
    due = engine.due("中", at(2024, 5, 21, 11, 0))["response"]
    # 11–12 (1 h) + 13:30–18 (4.5 h) + next day 9–11 (2 h) = 7.5 h
    assert due.due_at == at(2024, 5, 22, 11, 0)


def test_low_priority_has_no_resolution_target(engine):
    due = engine.due("低", at(2024, 5, 21, 9, 0))
    assert due["resolution"].due_at is None
    assert "无时限" in due["resolution"].explanation["text"]


def test_year_not_in_calendar_is_estimated_and_says_so(engine):
    due = engine.due("中", at(2031, 3, 3, 10, 0))["response"]
    assert due.explanation["estimated"] is True
    assert "估算" in due.explanation["text"]


def test_policy_rejects_ambiguous_target():
    with pytest.raises(ValueError):
        SlaPolicy.from_dict({"priority": {"高": {"response": {"hours": 4, "working_days": 1}}}})


def test_configurable_business_hours_without_lunch():
    policy = SlaPolicy.from_dict({"business_hours": {"start": "08:00", "end": "20:00"},
                                  "priority": {"中": {"response": {"working_days": 1}}}})
    due = SlaEngine(policy, TZ).due("中", at(2024, 5, 21, 8, 0))["response"]
    assert due.due_at == at(2024, 5, 21, 20, 0)
