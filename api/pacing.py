"""Background work that waits while the machine is busy: agents first, imports when there is room.

Why: ``ZHIKU_BACKGROUND_NICE`` lowers the priority of an import's CPU work, but a niced
thread still gets about a tenth of a contended core, and the work an import sets off runs
elsewhere (the index writer segmenting and packing, the vector keeper, the database server).
On a node already near full (2 cores, 20 case creations + 100 suggestions/s) that tenth was
enough to multiply the agents' p99 by 2–6 during a 20,000-row import (docs/operations.md).
So between two chunks the import also looks at the whole machine, the way online schema-change
tools pause on load (pt-online-schema-change ``--max-load``, gh-ost ``--max-load``): while the
CPUs were busier than ``busy_above`` during its last pause, it pauses again, up to
``max_wait`` seconds per chunk, so that it still moves on a node that never gets quiet.

What is measured: the share of all CPUs busy with other processes' work (``psutil``: the
machine's CPU times less those of this process and its children, Linux ``/proc/stat``) since
the previous look — over the chunk and the pause after it, then over each further step. The
import's own work and the index writer's (a child of the job worker's process, busy with the
import's rows) are not counted, so on a quiet node an import runs at full speed; the web
workers, the database server and anything else on the machine are. A container sees its
host's CPUs here, not its own quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil


def tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds used so far by a process and its live children (for the job worker: the
    node's index writer, busy with the import's rows — the import's own doing)."""
    used = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.Error:             # a child that just ended
            continue
        used += times.user + times.system
    return used


def others_busy_sampler() -> Callable[[], float]:
    """A function returning the share of all CPUs busy with other processes' work since its
    previous call (0–1)."""
    me = psutil.Process()

    def sample() -> tuple[float, float, float]:
        t = psutil.cpu_times()
        # guest time is counted in user time already (as psutil.cpu_percent does)
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        return total, total - t.idle - getattr(t, "iowait", 0.0), tree_cpu_seconds(me)

    last = sample()

    def busy() -> float:
        nonlocal last
        now = sample()
        total, others = now[0] - last[0], (now[1] - last[1]) - (now[2] - last[2])
        last = now
        return min(max(others / total, 0.0), 1.0) if total > 0 else 0.0

    return busy


class Pacer:
    """``pause(at_least, stopping)``: wait ``at_least`` seconds, then — while other processes
    kept the machine busier than ``busy_above`` — wait on in steps, up to ``max_wait`` seconds
    in all. ``busy_above`` ≥ 1 never waits beyond ``at_least``."""

    def __init__(self, busy_above: float, max_wait: float, *, step: float = 0.1,
                 sampler: Callable[[], Callable[[], float]] = others_busy_sampler,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.busy_above = busy_above
        self.max_wait = max_wait
        self.step = step
        self._busy = sampler() if busy_above < 1 else None
        self._clock = clock
        self.waited = 0.0          # seconds spent waiting for the machine (beyond ``at_least``), in all
        self.pauses = 0            # pauses that waited for it

    def pause(self, at_least: float, stopping: threading.Event) -> float:
        """Wait; returns the seconds waited in all. Returns early once ``stopping`` is set."""
        began = self._clock()
        stopping.wait(at_least)
        if self._busy is None:
            return self._clock() - began
        waited_for_machine = False
        while not stopping.is_set() and self._busy() > self.busy_above:
            left = self.max_wait - (self._clock() - began)
            if left <= 0:
                break
            if not waited_for_machine:
                waited_for_machine, self.pauses = True, self.pauses + 1
            step_began = self._clock()
            stopping.wait(min(self.step, left))
            self.waited += self._clock() - step_began
        return self._clock() - began
