"""The search gate: at most N holders, waiters served in the order they came."""

from __future__ import annotations

import threading
import time

import pytest

from api.gate import Gate
from tests.conftest import wait_for


def test_waiters_enter_in_arrival_order_and_one_at_a_time():
    gate = Gate(1)
    order, inside, most = [], [0], [0]
    guard = threading.Lock()

    def visit(i: int) -> None:
        with gate:
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            order.append(i)
            time.sleep(0.002)
            with guard:
                inside[0] -= 1

    gate.__enter__()                        # hold the gate while the visitors line up
    threads = []
    for i in range(8):
        t = threading.Thread(target=visit, args=(i,))
        t.start()
        threads.append(t)
        assert wait_for(lambda n=i + 1: gate.waiting == n, timeout=5), f"visitor {i} never queued"
    gate.__exit__(None, None, None)
    for t in threads:
        t.join(5)
    assert order == list(range(8))
    assert most[0] == 1


def test_two_slots_let_two_in_and_queue_the_third():
    gate = Gate(2)
    release = threading.Event()
    entered = []

    def visit(i: int) -> None:
        with gate:
            entered.append(i)
            release.wait(5)

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(entered) == 2 and gate.waiting == 1, timeout=5)
    release.set()
    for t in threads:
        t.join(5)
    assert sorted(entered) == [0, 1, 2]


def test_a_failing_holder_passes_its_turn_on():
    gate = Gate(1)
    with pytest.raises(RuntimeError), gate:
        raise RuntimeError("search failed")
    done = []
    t = threading.Thread(target=lambda: (gate.__enter__(), done.append(1), gate.__exit__(None, None, None)))
    t.start()
    t.join(5)
    assert done == [1]


def test_a_gate_needs_a_slot():
    with pytest.raises(ValueError):
        Gate(0)


def test_suggestions_and_searches_wait_for_the_gate_and_saves_do_not(api):
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import case_payload

    gate = api.client.app.state.search_gate
    gate.__enter__()                                   # a long search holds this worker's turn
    try:
        with ThreadPoolExecutor(3) as pool:
            draft = {"subject": "打卡失败", "description": "考勤打卡提示不在范围内"}
            suggestion = pool.submit(api.post, "/api/v1/suggestions", json=draft)
            assert wait_for(lambda: gate.waiting == 1, timeout=10), "the suggestion did not queue at the gate"
            search = pool.submit(api.get, "/api/v1/search", params={"q": "打卡"})
            assert wait_for(lambda: gate.waiting == 2, timeout=10), "the search did not queue at the gate"
            saved = api.post("/api/v1/cases", json=case_payload())     # not behind the gate
            assert saved.status_code == 201, saved.text
            assert not suggestion.done() and not search.done()
            gate.__exit__(None, None, None)
            gate = None
            assert suggestion.result(30).status_code == 200
            assert search.result(30).status_code == 200
    finally:
        if gate is not None:
            gate.__exit__(None, None, None)
