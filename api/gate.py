"""Searches of one worker process take turns, first come first served.

Why: a suggestion is ~7 ms of CPU under the GIL (postings and numpy, jieba, the model, SQLite
rows). When four of a worker's threads run them at once, every row fetch and file read lets go
of the GIL and must win it back from a thread that keeps it for the whole switch interval:
measured at 100k cases with 2 workers, one suggestion at a time per worker served 163 req/s
instead of 145, and with 20 case creations/s beside 100 suggestions/s the creations' p99 fell
from 444 to 90 ms (``bench/write_load.py``). Saves, page views and reports do not pass the gate,
so an agent's save never queues behind a burst of suggestions.

Waiters are served in arrival order (a plain lock wakes an arbitrary waiter, which showed up in
the p99). ``ZHIKU_SEARCH_CONCURRENCY`` raises the number of turns at once, e.g. for a
PostgreSQL server across a network, where a suggestion also waits on round trips."""

from __future__ import annotations

import threading
from collections import deque


class Gate:
    """At most ``slots`` holders at once; the others wait in a FIFO queue."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self.slots = slots
        self._free = slots
        self._waiting: deque[threading.Lock] = deque()
        self._lock = threading.Lock()

    def __enter__(self) -> Gate:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return self
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()             # released by the holder that hands this waiter its slot
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()      # the slot passes straight to the next in line
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._waiting)
