"""The burst rule's snapshot of recent open cases, updated in place by this process's commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.cases import bursts
from kb.cases.bursts import OpenSnapshot, Saved
from kb.text import prepare

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PRINTER = "收银机打印小票乱码\n门店收银机今天打印出来的小票全是乱码，重启也不行"
LOCK = "蓝牙门锁开锁失败\nApp搜不到门锁，开锁一直失败"


def test_an_update_adds_open_cases_drops_closed_ones_and_keeps_the_newest(segmenter, monkeypatch):
    monkeypatch.setattr(bursts, "SCAN_LIMIT", 2)
    snapshot = OpenSnapshot(T0, "v")
    draft = set(prepare(PRINTER))
    snapshot.apply([Saved(1, True, T0 + timedelta(minutes=1), PRINTER),
                    Saved(2, True, T0 - timedelta(minutes=1), PRINTER),       # before the window
                    Saved(3, True, T0 + timedelta(minutes=2), LOCK)])
    assert len(snapshot) == 2 and snapshot.count(draft, since=T0, similarity=0.5) == 1
    snapshot.apply([Saved(4, True, T0 + timedelta(minutes=3), PRINTER)])      # over the limit: 1 goes
    assert sorted(snapshot.cases) == [3, 4] and snapshot.count(draft, since=T0, similarity=0.5) == 1
    snapshot.apply([Saved(4, False, T0 + timedelta(minutes=3), PRINTER)])     # resolved
    assert sorted(snapshot.cases) == [3] and snapshot.count(draft, since=T0, similarity=0.5) == 0
    assert all(3 in ids for ids in snapshot.postings.values())                # no stale postings
    snapshot.apply([Saved(3, True, T0 + timedelta(minutes=2), PRINTER)])      # its text edited
    assert snapshot.count(draft, since=T0, similarity=0.5) == 1
    assert snapshot.count(draft, since=T0 + timedelta(minutes=5), similarity=0.5) == 0
