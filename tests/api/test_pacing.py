"""An import waits between chunks while other processes keep the machine busy (api.pacing)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psutil

from api.pacing import Pacer, others_busy_sampler, tree_cpu_seconds


class FakeClock:
    """Time that moves only when the pacer waits: the test reads waits exactly."""

    def __init__(self) -> None:
        self.now = 0.0


class Stopping(threading.Event):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout=None) -> bool:
        self.clock.now += timeout or 0
        return self.is_set()


def pacer(readings: list[float], *, busy_above=0.6, max_wait=5.0, step=0.1) -> tuple[Pacer, FakeClock, list]:
    clock, seen = FakeClock(), []

    def sampler():
        def busy():
            seen.append(readings.pop(0) if readings else 0.0)
            return seen[-1]
        return busy

    return Pacer(busy_above, max_wait, step=step, sampler=sampler, clock=lambda: clock.now), clock, seen


def test_a_quiet_machine_costs_only_the_pause_asked_for():
    p, clock, seen = pacer([0.2])
    assert p.pause(0.03, Stopping(clock)) == 0.03
    assert seen == [0.2] and p.pauses == 0 and p.waited == 0


def test_a_busy_machine_is_waited_for_until_it_is_quiet():
    p, clock, seen = pacer([0.9, 0.8, 0.4])
    waited = p.pause(0.03, Stopping(clock))
    assert abs(waited - 0.23) < 1e-9 and len(seen) == 3           # two steps of 0.1 s beyond the 0.03 s
    assert p.pauses == 1 and abs(p.waited - 0.2) < 1e-9


def test_a_machine_that_never_gets_quiet_is_waited_for_at_most_max_wait():
    p, clock, _ = pacer([0.95] * 1000, max_wait=2.0)
    assert abs(p.pause(0.03, Stopping(clock)) - 2.0) < 1e-9
    assert abs(p.pause(0.03, Stopping(clock)) - 2.0) < 1e-9       # and at the next chunk: it still moves
    assert p.pauses == 2


def test_pacing_turned_off_never_looks_at_the_machine():
    p, clock, seen = pacer([0.99], busy_above=1.0)
    assert p.pause(0.03, Stopping(clock)) == 0.03 and seen == []


def test_a_stop_ends_the_wait():
    p, clock, _ = pacer([0.99] * 1000, max_wait=60)
    stopping = Stopping(clock)
    stopping.set()
    assert p.pause(0.03, stopping) == 0.03


def test_the_sampler_sees_another_process_busy():
    # not a child of this process (those count as its own): started by a launcher that exits
    launch = ("import subprocess, sys\n"
              "p = subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True,\n"
              "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
              "print(p.pid)")
    launcher = subprocess.run([sys.executable, "-c", launch], capture_output=True, text=True, check=True,
                              timeout=30)
    spinner = psutil.Process(int(launcher.stdout))
    busy = others_busy_sampler()
    try:
        time.sleep(1.0)
        share = busy()
    finally:
        spinner.kill()
    # the spinner alone keeps one core (of os.cpu_count()) busy; allow it to be scheduled 40 % of the time
    assert 0.4 / os.cpu_count() <= share <= 1.0


def test_the_sampler_does_not_count_this_process(monkeypatch):
    """Of 4 CPU-seconds, 1 idle and 1.5 this process's own: others kept 1.5 / 4 busy."""
    from collections import namedtuple

    from api import pacing

    Times = namedtuple("Times", "user system idle iowait guest guest_nice")
    Own = namedtuple("Own", "user system")
    machine = iter([Times(10, 10, 10, 0, 0, 0), Times(12.5, 10.5, 10.8, 0.2, 0, 0)])
    own = iter([Own(1, 1), Own(2.2, 1.3)])
    monkeypatch.setattr(pacing.psutil, "cpu_times", lambda: next(machine))
    process = type("P", (), {"cpu_times": lambda self: next(own), "children": lambda self, recursive: []})
    monkeypatch.setattr(pacing.psutil, "Process", process)
    assert abs(pacing.others_busy_sampler()() - 1.5 / 4) < 1e-9


def test_this_process_s_own_cpu_includes_its_children():
    """The index writer is a child of the job worker's process: its work on the import's rows is
    the import's own doing, not agents keeping the machine busy."""
    me = psutil.Process()
    before = tree_cpu_seconds(me)
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.perf_counter() + 1.0\n"
                              "while time.perf_counter() < end: pass\ntime.sleep(30)"])
    try:
        time.sleep(1.5)
        used = tree_cpu_seconds(me) - before
    finally:
        child.kill()
        child.wait()
    assert used >= 0.5              # the child spun ~1 s (this process slept)
