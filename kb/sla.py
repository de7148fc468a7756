"""SLA due times on the Chinese business calendar.

A policy gives, per priority code, a response and a resolution target, each either
in calendar hours (高: 4 h / 24 h, counted round the clock) or in working days
(中: 1 / 3 working days). Working days are counted as business time: N working days
is N × the business minutes of one day (business hours minus the lunch break), spent
only on working days. Working days come from the maintained ``chinesecalendar``
package, so statutory holidays are off and make-up working days (调休) on weekends
count. Every due time carries an explanation naming what was skipped.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
WEEKDAYS_ZH = "一二三四五六日"


@dataclass(frozen=True)
class DayInfo:
    day: date
    workday: bool
    reason: str  # 工作日 / 周末 / holiday name / 调休上班(节日)
    makeup: bool = False
    estimated: bool = False


class ChineseWorkCalendar:
    """Working days per the State Council schedule shipped in ``chinesecalendar``.

    For a year the package does not know yet, weekends are treated as off and the
    result is flagged ``estimated`` (upgrade the package when the new schedule is out)."""

    def day(self, day: date) -> DayInfo:
        return _day_info(day)


@lru_cache(maxsize=8192)
def _day_info(day: date) -> DayInfo:
    """One calendar look-up per date per process: every due time walks several days, and a
    spreadsheet import computes thousands of them."""
    try:
        workday = chinese_calendar.is_workday(day)
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        weekend = day.weekday() >= 5
        return DayInfo(day, not weekend, "周末" if weekend else "工作日", estimated=True)
    zh = HOLIDAY_NAMES_ZH.get(name, name) if name else None
    if workday and day.weekday() >= 5:
        return DayInfo(day, True, f"调休上班（{zh}）" if zh else "调休上班", makeup=True)
    if workday:
        return DayInfo(day, True, "工作日")
    if zh:
        return DayInfo(day, False, zh)
    return DayInfo(day, False, "周末")


@dataclass(frozen=True)
class Target:
    hours: float | None = None
    working_days: float | None = None

    def describe(self) -> str:
        if self.hours is not None:
            return f"{self.hours:g} 小时（自然时间）"
        return f"{self.working_days:g} 个工作日"


@dataclass(frozen=True)
class BusinessHours:
    start: time = time(9, 0)
    end: time = time(18, 0)
    lunch_start: time | None = time(12, 0)
    lunch_end: time | None = time(13, 30)

    def intervals(self) -> list[tuple[time, time]]:
        if self.lunch_start and self.lunch_end:
            return [(self.start, self.lunch_start), (self.lunch_end, self.end)]
        return [(self.start, self.end)]

    def minutes_per_day(self) -> int:
        return sum(_minutes(b) - _minutes(a) for a, b in self.intervals())


@dataclass(frozen=True)
class SlaPolicy:
    targets: dict[str, dict[str, Target]]
    business_hours: BusinessHours = field(default_factory=BusinessHours)

    @classmethod
    def from_toml(cls, path: Path) -> SlaPolicy:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SlaPolicy:
        bh_raw = raw.get("business_hours", {})
        bh = BusinessHours(
            start=time.fromisoformat(bh_raw.get("start", "09:00")),
            end=time.fromisoformat(bh_raw.get("end", "18:00")),
            lunch_start=time.fromisoformat(bh_raw["lunch_start"]) if bh_raw.get("lunch_start") else None,
            lunch_end=time.fromisoformat(bh_raw["lunch_end"]) if bh_raw.get("lunch_end") else None,
        )
        if bh.start >= bh.end:
            raise ValueError("business_hours.start must be before end")
        targets: dict[str, dict[str, Target]] = {}
        for code, spec in raw.get("priority", {}).items():
            targets[code] = {}
            for kind in ("response", "resolution"):
                if kind in spec:
                    t = Target(hours=spec[kind].get("hours"), working_days=spec[kind].get("working_days"))
                    if (t.hours is None) == (t.working_days is None):
                        raise ValueError(f"priority {code} {kind}: give exactly one of hours / working_days")
                    targets[code][kind] = t
        return cls(targets=targets, business_hours=bh)

    def as_dict(self) -> dict[str, Any]:
        bh = self.business_hours
        return {
            "business_hours": {
                "start": bh.start.strftime("%H:%M"),
                "end": bh.end.strftime("%H:%M"),
                "lunch_start": bh.lunch_start.strftime("%H:%M") if bh.lunch_start else None,
                "lunch_end": bh.lunch_end.strftime("%H:%M") if bh.lunch_end else None,
            },
            "priority": {
                code: {kind: {"hours": t.hours, "working_days": t.working_days, "text": t.describe()}
                       for kind, t in kinds.items()}
                for code, kinds in self.targets.items()
            },
        }


@dataclass
class Due:
    due_at: datetime | None
    explanation: dict[str, Any]


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _fmt_day(d: date) -> str:
    return f"{d.month}月{d.day}日（周{WEEKDAYS_ZH[d.weekday()]}）"


def _group_skips(skipped: list[DayInfo]) -> list[dict[str, str]]:
    """Collapse consecutive skipped days with the same reason: 国庆节 10月1日–10月7日."""
    groups: list[dict[str, Any]] = []
    for info in skipped:
        if groups and groups[-1]["reason"] == info.reason and groups[-1]["to"] + timedelta(days=1) == info.day:
            groups[-1]["to"] = info.day
        else:
            groups.append({"reason": info.reason, "from": info.day, "to": info.day})
    return [
        {"reason": g["reason"], "from": g["from"].isoformat(), "to": g["to"].isoformat(),
         "days": (g["to"] - g["from"]).days + 1}
        for g in groups
    ]


class SlaEngine:
    def __init__(self, policy: SlaPolicy, tz: ZoneInfo, calendar: ChineseWorkCalendar | None = None) -> None:
        self.policy = policy
        self.tz = tz
        self.calendar = calendar or ChineseWorkCalendar()

    def due(self, priority: str, received_at: datetime) -> dict[str, Due]:
        """Response and resolution due times for a case of ``priority`` received at ``received_at``."""
        start = received_at.astimezone(self.tz)
        targets = self.policy.targets.get(priority, {})
        result: dict[str, Due] = {}
        for kind, label in (("response", "首次响应"), ("resolution", "解决")):
            target = targets.get(kind)
            if target is None:
                result[kind] = Due(None, {"rule": "无时限", "text": f"{label}：优先级「{priority}」无时限要求"})
            elif target.hours is not None:
                result[kind] = self._calendar_hours(label, start, target)
            else:
                result[kind] = self._working_days(label, start, target)
        return result

    def _calendar_hours(self, label: str, start: datetime, target: Target) -> Due:
        due = start + timedelta(hours=target.hours)
        text = f"{label}时限 {target.describe()}：{start:%Y-%m-%d %H:%M} 起算，截止 {due:%Y-%m-%d %H:%M}（不扣除节假日）"
        return Due(due, {"rule": target.describe(), "start": start.isoformat(), "due": due.isoformat(),
                         "skipped": [], "makeup_workdays": [], "estimated": False, "text": text})

    def _working_days(self, label: str, start: datetime, target: Target) -> Due:
        bh = self.policy.business_hours
        remaining = round(target.working_days * bh.minutes_per_day())
        day = start.date()
        cursor_min = _minutes(start.time()) + start.second / 60
        skipped: list[DayInfo] = []
        makeup: list[DayInfo] = []
        estimated = False
        clock_started: datetime | None = None
        for _ in range(800):  # > 2 years of days: a policy of that size is a configuration error
            info = self.calendar.day(day)
            estimated |= info.estimated
            if not info.workday:
                skipped.append(info)
            else:
                if info.makeup:
                    makeup.append(info)
                for a, b in bh.intervals():
                    lo, hi = max(_minutes(a), cursor_min), _minutes(b)
                    if lo >= hi:
                        continue
                    if clock_started is None:
                        clock_started = datetime.combine(day, time(0), self.tz) + timedelta(minutes=lo)
                    if remaining <= hi - lo:
                        due = datetime.combine(day, time(0), self.tz) + timedelta(minutes=lo + remaining)
                        return self._explain(label, start, clock_started, due, target, skipped, makeup, estimated)
                    remaining -= hi - lo
            day += timedelta(days=1)
            cursor_min = 0
        raise ValueError("SLA target too long for the calendar")

    def _explain(self, label, start, clock_started, due, target, skipped, makeup, estimated) -> Due:
        bh = self.policy.business_hours
        hours = f"{bh.start:%H:%M}–{bh.end:%H:%M}"
        if bh.lunch_start and bh.lunch_end:
            hours += f"，午休 {bh.lunch_start:%H:%M}–{bh.lunch_end:%H:%M}"
        groups = _group_skips(skipped)
        parts = [f"{label}时限 {target.describe()}（工作时间 {hours}）"]
        if clock_started and clock_started > start:
            parts.append(f"{start:%Y-%m-%d %H:%M} 在工作时间外，自 {clock_started:%Y-%m-%d %H:%M} 起算")
        else:
            parts.append(f"自 {start:%Y-%m-%d %H:%M} 起算")
        if groups:
            skip_text = "、".join(
                f"{g['reason']} {_fmt_day(date.fromisoformat(g['from']))}"
                + (f"至{_fmt_day(date.fromisoformat(g['to']))}" if g["days"] > 1 else "")
                for g in groups
            )
            parts.append(f"跳过 {skip_text}")
        if makeup:
            parts.append("计入调休工作日 " + "、".join(_fmt_day(m.day) for m in makeup))
        if estimated:
            parts.append("注意：节假日安排尚未收录该年份，按周末休息估算")
        parts.append(f"截止 {due:%Y-%m-%d %H:%M}")
        return Due(due, {
            "rule": target.describe(),
            "start": start.isoformat(),
            "clock_started": clock_started.isoformat() if clock_started else None,
            "due": due.isoformat(),
            "skipped": groups,
            "makeup_workdays": [m.day.isoformat() for m in makeup],
            "estimated": estimated,
            "text": "；".join(parts),
        })
