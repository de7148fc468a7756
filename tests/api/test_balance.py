"""The busier of several web workers closes keep-alive connections (api.balance), so the kernel
places the client's next connection afresh; an evenly loaded or lone worker keeps them."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest

from api import balance
from api.app import create_app
from api.balance import ShedWhenBusy


@pytest.fixture
def board():
    board = multiprocessing.get_context("spawn").RawArray("i", 2)
    board[0] = 5                           # a stale count of a dead predecessor in our slot
    balance.enable(board, 0)
    assert board[0] == 0
    yield board
    balance._board = None


class Held:
    """An app whose requests wait until released, so the test decides how many are in flight."""

    def __init__(self) -> None:
        self.release: list[asyncio.Event] = []

    async def __call__(self, scope, receive, send) -> None:
        done = asyncio.Event()
        self.release.append(done)
        await done.wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


async def run(shed: ShedWhenBusy, held: Held, requests: int) -> list[bool]:
    """Start ``requests`` at once and finish them one by one, the rest still in flight; whether
    each response closed its connection, in order."""
    closed = []

    async def one():
        started = []

        async def send(message):
            if message["type"] == "http.response.start":
                started.append((b"connection", b"close") in message["headers"])

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        await shed({"type": "http", "method": "GET", "path": "/"}, receive, send)
        closed.append(started[0])

    tasks = [asyncio.create_task(one()) for _ in range(requests)]
    while len(held.release) < requests:
        await asyncio.sleep(0)
    for event in held.release:
        event.set()
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    return closed


def test_a_worker_two_requests_busier_than_the_other_closes_connections_until_even(board):
    board[1] = 0
    held = Held()
    shed = ShedWhenBusy(held, threads=4)
    closed = asyncio.run(run(shed, held, 4))
    # in flight while each answered: 4, 3, 2, 1 here against 0 there
    assert closed == [True, True, True, False]
    assert board[0] == 0 and shed.shed == 3


def test_evenly_loaded_workers_keep_their_connections(board):
    board[1] = 3
    held = Held()
    closed = asyncio.run(run(ShedWhenBusy(held, threads=4), held, 4))
    assert closed == [False, False, False, False]     # 4, 3, 2, 1 against 3


def test_more_requests_than_threads_sheds_even_when_the_other_worker_is_as_busy(board):
    board[1] = 6
    held = Held()
    closed = asyncio.run(run(ShedWhenBusy(held, threads=4), held, 6))
    assert closed == [True, True, False, False, False, False]     # 6 and 5 are above 4 threads


def test_a_lone_worker_never_sheds():
    held = Held()
    closed = asyncio.run(run(ShedWhenBusy(held, threads=1), held, 3))
    assert closed == [False, False, False]


def test_the_app_counts_its_requests_on_the_board(board, settings):
    from fastapi.testclient import TestClient

    board[1] = 0
    seen = []
    app = create_app(settings)

    @app.get("/test-board")
    def where():
        seen.append(board[0])
        return {}

    with TestClient(app) as client:
        assert client.get("/test-board").status_code == 200
    assert seen == [1] and board[0] == 0
