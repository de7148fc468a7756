"""The search gate: at most N holders, waiters served in the order they came, waiting on the
event loop (no handler thread held), and only suggestions and searches pass it."""

from __future__ import annotations

import asyncio

import pytest

from api.gate import Gate
from tests.conftest import case_payload, wait_for


def test_waiters_enter_in_arrival_order_and_one_at_a_time():
    async def scenario():
        gate = Gate(1)
        order, inside, most = [], [0], [0]

        async def visit(i: int) -> None:
            async with gate:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(i)
                await asyncio.sleep(0.001)
                inside[0] -= 1

        await gate.__aenter__()                      # hold the gate while the visitors line up
        tasks = []
        for i in range(8):
            tasks.append(asyncio.create_task(visit(i)))
            await asyncio.sleep(0)
        assert gate.waiting == 8
        await gate.__aexit__(None, None, None)
        await asyncio.gather(*tasks)
        return order, most[0]

    order, most = asyncio.run(scenario())
    assert order == list(range(8)) and most == 1


def test_two_slots_let_two_in_and_queue_the_third():
    async def scenario():
        gate, release, entered = Gate(2), asyncio.Event(), []

        async def visit(i: int) -> None:
            async with gate:
                entered.append(i)
                await release.wait()

        tasks = [asyncio.create_task(visit(i)) for i in range(3)]
        await asyncio.sleep(0.01)
        seen = (sorted(entered), gate.waiting)
        release.set()
        await asyncio.gather(*tasks)
        return seen, sorted(entered)

    assert asyncio.run(scenario()) == (([0, 1], 1), [0, 1, 2])


def test_a_failing_or_cancelled_holder_passes_its_turn_on():
    async def scenario():
        gate = Gate(1)
        with pytest.raises(RuntimeError):
            async with gate:
                raise RuntimeError("search failed")
        await gate.__aenter__()
        waiter = asyncio.create_task(gate.__aenter__())           # cancelled while waiting
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        after = asyncio.create_task(gate.__aenter__())
        await asyncio.sleep(0)
        await gate.__aexit__(None, None, None)
        await asyncio.wait_for(after, 1)
        return gate.waiting

    assert asyncio.run(scenario()) == 0


def test_a_gate_needs_a_slot():
    with pytest.raises(ValueError):
        Gate(0)


def test_suggestions_and_searches_wait_for_the_gate_without_a_thread_and_saves_do_not(api):
    from concurrent.futures import ThreadPoolExecutor

    app = api.client.app
    gate = app.state.search_gate
    api.client.portal.call(gate.__aenter__)              # a long search holds this worker's turn
    held = True
    try:
        with ThreadPoolExecutor(8) as pool:
            draft = {"subject": "打卡失败", "description": "考勤打卡提示不在范围内"}
            waiting = [pool.submit(api.post, "/api/v1/suggestions", json=draft)
                       for _ in range(app.state.settings.threads + 1)]
            waiting.append(pool.submit(api.get, "/api/v1/search", params={"q": "打卡"}))
            assert wait_for(lambda: gate.waiting == len(waiting), timeout=10), "not all queued at the gate"
            # more suggestions wait than the worker has threads, and a save still runs
            saved = api.post("/api/v1/cases", json=case_payload())
            assert saved.status_code == 201, saved.text
            assert not any(f.done() for f in waiting)
            api.client.portal.call(gate.__aexit__, None, None, None)
            held = False
            assert [f.result(30).status_code for f in waiting] == [200] * len(waiting)
    finally:
        if held:
            api.client.portal.call(gate.__aexit__, None, None, None)
