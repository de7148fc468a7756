"""Time, injected: numbering, SLA and history all ask a Clock so tests can fix "now"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Clock:
    tz: ZoneInfo = DEFAULT_TZ

    def now(self) -> datetime:
        """Aware 'now' in the service timezone (Asia/Shanghai by default)."""
        return datetime.now(UTC).astimezone(self.tz)

    def local(self, moment: datetime) -> datetime:
        """Interpret naive datetimes as local time; convert aware ones to local."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz)


@dataclass(frozen=True)
class FixedClock(Clock):
    """A clock that always answers the same instant (tests, replays, imports)."""

    at: datetime = field(default_factory=lambda: datetime(2024, 5, 21, 9, 30, tzinfo=DEFAULT_TZ))

    def now(self) -> datetime:
        return self.local(self.at)
