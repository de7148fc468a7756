"""The busier of several web workers closes keep-alive connections (api.balance), so the kernel
places the client's next connection afresh; an evenly loaded or lone worker keeps them."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading

import pytest
from fastapi.testclient import TestClient

from api import balance
from api.app import create_app
from api.balance import ShedWhenBusy
from kb.models import Role
from kb.settings import Settings
from tests.api.test_jobs import sheet
from tests.conftest import DATA_DIR, add_user


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


def test_an_import_waiting_for_its_job_does_not_count_as_load(board, db_url, tmp_path, clock):
    # reproduction (PostgreSQL, 20 creations + 70 suggestions/s): after an import's post, the
    # worker holding its request counted it as one more in flight while the job ran, and shed
    # connections to its neighbour — the two at 0.37–0.53 and 0.72–0.74 of a core in five runs
    board[1] = 0
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url,
                        embedded_worker=False, embedded_indexer=False, import_wait_seconds=3)
    app = create_app(settings, clock=clock)

    @app.get("/test-board")
    def count():
        return {"in_flight": board[0]}

    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {add_user(app.state.engine, 'agent1', Role.agent)}"}
        answered = []
        post = threading.Thread(target=lambda: answered.append(client.post(
            "/api/v1/cases/import", files={"file": ("s.csv", sheet(3), "text/csv")}, headers=headers)))
        post.start()
        seen_while_waiting = []
        while post.is_alive():
            queued = client.get("/api/v1/jobs?status=queued", headers=headers).json()
            in_flight = client.get("/test-board").json()["in_flight"]
            if queued and post.is_alive():          # the import's request was waiting all along
                seen_while_waiting.append(in_flight)
                if in_flight == 1:
                    break
        post.join()
    assert answered[0].status_code == 202, answered[0].text      # no worker: the wait ran out
    assert seen_while_waiting and seen_while_waiting[-1] == 1, seen_while_waiting   # only /test-board
    assert board[0] == 0
