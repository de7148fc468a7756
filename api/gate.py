"""Searches of one worker process take turns, first come first served, waiting without a thread.

Why: a suggestion is ~7 ms of CPU under the GIL (postings and numpy, jieba, the model, SQLite
rows). When four of a worker's threads run them at once, every row fetch and file read lets go
of the GIL and must win it back from a thread that keeps it for the whole switch interval:
measured at 100k cases with 2 workers, one suggestion at a time per worker served 163 req/s
instead of 145, and with 20 case creations/s beside 100 suggestions/s the creations' p99 fell
from 444 to 90 ms (``bench/write_load.py``-style runs).

The wait happens on the event loop, before a handler thread is taken: waiting in a thread
(the first version) let a burst of suggestions hold all of a worker's ``ZHIKU_THREADS``, so an
agent's save had no thread to run on. Saves, page views and reports never pass the gate.
Waiters are served in arrival order (a plain lock wakes an arbitrary waiter, which showed in the
p99). ``ZHIKU_SEARCH_CONCURRENCY`` raises the number of turns at once, e.g. for a PostgreSQL
server across a network, where a suggestion also waits on round trips."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class Gate:
    """At most ``slots`` holders at once; the others wait in a FIFO queue. Used from one event
    loop (a worker's), so it needs no lock of its own."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self.slots = slots
        self._free = slots
        self._waiting: deque[asyncio.Future] = deque()

    async def __aenter__(self) -> Gate:
        if self._free and not self._waiting:
            self._free -= 1
            return self
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()                 # the slot was handed over as we were cancelled: pass it on
            else:
                self._waiting.remove(turn)
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)          # the slot passes straight to the next in line
                return
        self._free += 1

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` in a handler thread, once it is this caller's turn."""
        async with self:
            return await run_in_threadpool(work)

    @property
    def waiting(self) -> int:
        return len(self._waiting)
