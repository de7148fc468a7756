"""Case numbers: prefix + YYYYMMDD (service timezone) + 3-digit daily sequence (FW20240521001).

The counter row is bumped with one atomic upsert inside the creating transaction, so two
processes can never draw the same number, and the number of a stored case is never handed
out again (committed bumps only grow the counter; cases are never deleted). A creation that
rolls back takes its bump with it: nobody ever saw that number, and the next case gets it,
so a day's numbers stay consecutive without gaps (what auditors of a 客服 desk check). Past
999 cases a day the sequence simply widens (FW202405211000) instead of failing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

_NEXT = text(
    "INSERT INTO case_sequence (prefix, day, last_value) VALUES (:prefix, :day, :count) "
    "ON CONFLICT (prefix, day) DO UPDATE SET last_value = case_sequence.last_value + :count "
    "RETURNING last_value"
)


def next_case_number(session: Session, *, prefix: str, local_now: datetime) -> str:
    return next_case_numbers(session, prefix=prefix, local_now=local_now, count=1)[0]


def next_case_numbers(session: Session, *, prefix: str, local_now: datetime, count: int) -> list[str]:
    """``count`` consecutive numbers drawn with one atomic bump (a spreadsheet import)."""
    day = local_now.strftime("%Y%m%d")
    last = session.execute(_NEXT, {"prefix": prefix, "day": day, "count": count}).scalar_one()
    return [f"{prefix}{day}{value:03d}" for value in range(last - count + 1, last + 1)]
