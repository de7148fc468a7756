"""CPU priority inside the background: heavy work niced, lock holders not.

A niced thread that holds a lock the web workers wait for is a priority inversion: an
import's write transaction, run at nice 10 on a 2-core box busy with agents' requests, waited
for the CPU with SQLite's write lock (or PostgreSQL's case-number row) held, and every agent's
save waited behind it (bench/write_load.py: creation p99 ×9 during a 20,000-row import). So the
job worker's process keeps normal priority; the threads doing an import's CPU work lower their
own (Linux nices threads one by one), and hand each short write transaction to ``Urgent``, a
thread that was started before anything was niced. While it runs, the niced thread waits for
it, so the transaction neither waits for the CPU nor for the GIL."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def lower_this_thread(nice: int) -> bool:
    """Raise the calling thread's niceness to ``nice`` (never lowers it). Only Linux nices a
    single thread; elsewhere this does nothing and says so."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    current = os.getpriority(os.PRIO_PROCESS, tid)
    if current < nice:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    return True


class Urgent:
    """One thread, started at its creator's priority, that runs the callables it is handed.

    Threads inherit their creator's niceness, so it is started here, by the constructor's
    caller, instead of by whichever niced thread first submits work."""

    def __init__(self, name: str = "zhiku-urgent") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pool.submit(lambda: None).result()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the urgent thread and return its result (or raise its exception)."""
        return self._pool.submit(fn).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
