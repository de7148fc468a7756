"""A background loop that works in one process per node: whichever holds its file lock.

The index writer and the vector keeper are each a duty of exactly one process of a node
(several uvicorn workers, the background process, a ``worker`` run by hand may all start one).
Each loop takes its lock without waiting, looks again now and then while another process
holds it, runs its ``step`` every ``interval`` seconds once it holds it, survives a failing
step (the next round tries again), and lets the lock go when stopped."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from filelock import FileLock, Timeout


class NodeLoop:
    thread_name = "zhiku-loop"
    retry_seconds = 2.0         # how often a process without the lock looks again
    failure = "background step failed"
    log = logging.getLogger("zhiku")

    def __init__(self, lock_path: Path, interval: float) -> None:
        self.lock = FileLock(str(lock_path))
        self.interval = interval
        self.holds_lock = False
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def step(self):
        raise NotImplementedError

    def took_lock(self) -> None:
        """Called once this process holds the lock."""

    def run(self) -> None:
        while not self._stop.is_set():
            if not self.holds_lock:
                try:
                    self.lock.acquire(timeout=0)
                    self.holds_lock = True
                    self.took_lock()
                except Timeout:
                    self._stop.wait(self.retry_seconds)
                    continue
            try:
                self.step()
                self.last_error = None
            except Exception as exc:  # keep the loop alive: its work is still there next round
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.log.exception(self.failure)
            self._stop.wait(self.interval)
        if self.holds_lock:       # by the thread that acquired it: filelock's counts are per thread
            self.lock.release()
            self.holds_lock = False
