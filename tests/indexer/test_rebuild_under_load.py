"""A rebuild while agents keep resolving cases and the live writer keeps applying the feed:
afterwards the index holds exactly what the database says (reconcile finds no drift)."""

from __future__ import annotations

import threading
import time

import pytest

from indexer import WhooshIndex, feed
from indexer.rebuild import rebuild, reconcile
from indexer.sync import IndexWorker, rebuild_requested, request_rebuild
from kb.db import make_session
from tests.factories import make_resolved

pytestmark = pytest.mark.slow


def test_rebuild_during_continuous_resolves_leaves_no_drift(engine, rules, tmp_path, segmenter):
    index = WhooshIndex(tmp_path / "index", tmp_path / "jieba")
    rebuild(engine, index, segmenter.snapshot)
    writer = IndexWorker(engine, index, tmp_path / "indexer.lock", interval=0.05)
    writer.start()
    stop = threading.Event()
    made, errors = [], []

    def agent(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                with make_session(engine, write=True) as s:
                    made.append(make_resolved(s, rules, subject=f"闸机故障 {n}-{i}",
                                              description=f"闸机刷卡无反应 第{n}号门 第{i}次 G44{n}{i}").number)
            except Exception as exc:  # reported below
                errors.append(exc)
            i += 1

    agents = [threading.Thread(target=agent, args=(n,)) for n in range(2)]
    for a in agents:
        a.start()
    try:
        assert writer_ready(writer, index)
        generations = {index.current_generation()}
        for _ in range(2):                     # two rebuilds while the agents write
            time.sleep(0.5)
            request_rebuild(index)
            deadline = time.monotonic() + 60
            while rebuild_requested(index) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not rebuild_requested(index), writer.last_error
            generations.add(index.current_generation())
        time.sleep(0.5)
    finally:
        stop.set()
        for a in agents:
            a.join(30)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:      # the writer catches up with the last resolves
            with make_session(engine) as s:
                if feed.pending(s, feed.cursor_of(index)) == 0:
                    break
            time.sleep(0.1)
        drift = reconcile(engine, index, now=None)
    finally:
        writer.stop()
    assert not errors and len(made) >= 10 and len(generations) == 3
    assert (drift["missing"], drift["stale"], drift["extra"]) == (0, 0, 0), drift
    assert drift["indexed"] == drift["indexable"] == len(made)


def writer_ready(writer: IndexWorker, index: WhooshIndex) -> bool:
    deadline = time.monotonic() + 30
    while not writer.holds_lock and time.monotonic() < deadline:
        time.sleep(0.05)
    return writer.holds_lock and index.current_generation() is not None
