"""CPU priority in the background process: an import's CPU work niced thread by thread, its
write transactions on a thread that kept normal priority (``api.priority``)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from api.priority import Urgent, lower_this_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux nices threads one by one")


def _nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_thread_lowers_only_its_own_priority_and_urgent_work_keeps_the_creators():
    base = _nice_of_this_thread()
    urgent = Urgent()
    seen: dict[str, int] = {}

    def niced_job() -> None:
        lower_this_thread(base + 5)
        seen["job"] = _nice_of_this_thread()
        seen["its write"] = urgent.call(_nice_of_this_thread)
        child = threading.Thread(target=lambda: seen.update(spawned=_nice_of_this_thread()))
        child.start()
        child.join()

    job = threading.Thread(target=niced_job)
    job.start()
    job.join()
    urgent.close()
    assert seen == {"job": base + 5, "its write": base, "spawned": base + 5}
    assert _nice_of_this_thread() == base                     # the process's other threads are untouched
    assert os.getpriority(os.PRIO_PROCESS, 0) == base


def test_urgent_work_returns_its_result_and_raises_its_error_in_the_caller():
    urgent = Urgent()
    assert urgent.call(lambda: 41 + 1) == 42
    with pytest.raises(ZeroDivisionError):
        urgent.call(lambda: 1 / 0)
    urgent.close()


def test_lowering_never_raises_a_thread_already_lower_and_zero_does_nothing():
    base = _nice_of_this_thread()
    seen = []

    def run() -> None:
        lower_this_thread(base + 6)
        lower_this_thread(base + 3)                 # asks for less: stays at base + 6
        seen.append(_nice_of_this_thread())
        seen.append(lower_this_thread(0))

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert seen == [base + 6, False]
