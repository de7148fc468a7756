"""Keep the cyclic garbage collector off what a worker loads once.

Why: a worker holds millions of long-lived objects (jieba's dictionary, the models, the
taxonomy, SQLAlchemy's metadata). Every full collection walked all of them while holding the
GIL: measured 216–301 ms pauses, four times in 30 s under 120 req/s, which set the p99 of
suggestions and saves. ``gc.freeze()`` moves what exists after start-up into a generation the
collector never scans; objects made later are collected as usual. A new model or dictionary
replaces large structures, so after a swap the heap is thawed, collected once and frozen again
(one pause per promotion, in the refresher's thread, instead of one every few seconds).

Only a serving worker process (``api.serve``) enables it: a test process builds hundreds of
apps, and freezing each one's objects would keep their cyclic garbage for good."""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("zhiku.heap")
_enabled = False


def enable() -> None:
    """This process serves one app for its whole life: settle its heap after loading."""
    global _enabled
    _enabled = True


def settle(*, thaw: bool = False) -> float | None:
    """Collect, then freeze everything alive; ``thaw`` first when frozen objects may have died
    (a replaced model). Returns the seconds it took, None where not enabled."""
    if not _enabled:
        return None
    started = time.perf_counter()
    if thaw:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    seconds = time.perf_counter() - started
    log.info("heap settled", extra={"frozen_objects": gc.get_freeze_count(), "seconds": round(seconds, 3)})
    return seconds
