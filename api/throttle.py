"""Failed sign-ins per client, in this worker process.

After ``limit`` failed authentications from one client address within ``window`` seconds,
further failures from it answer 429 with Retry-After instead of 401, until the window has
moved past them. A valid key still works from a throttled address: a whole service desk
often shares one office address, and one misconfigured script must not lock the team out.
Keys are 256-bit random, so the throttle is about noise and log floods, not guessing; it is
kept per process (each worker counts its own), which the docs state."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class FailedAuthThrottle:
    def __init__(self, limit: int = 20, window: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may fail again without being throttled; None when it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[-self.limit] + self.window - now))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                self._failures.pop(next(iter(self._failures)))      # forget the oldest client
            failures = self._failures.setdefault(client, deque())
            failures.append(now)
            while len(failures) > self.limit:
                failures.popleft()
