"""The node's background process: the job worker and the index writer, apart from the web
workers.

Why a process of its own: run as a thread of a uvicorn worker, a 20,000-row import competed
for that worker's GIL with the agents' requests, and requests waiting on each of their
database calls behind a CPU-bound thread slowed to seconds (measured with
``bench/write_load.py`` at 10 creations + 20 suggestions/s: creation p99 88 ms → 8.4 s during
the import). ``python -m api serve`` starts this process next to its web workers (and
restarts it when it dies); ``python -m api worker`` is the same process run by hand, for a
node whose web workers run with ``ZHIKU_EMBEDDED_WORKER=false ZHIKU_EMBEDDED_INDEXER=false``."""

from __future__ import annotations

import os
import signal
import sys
import threading

from api.serve import SWITCH_INTERVAL


def run(*, jobs: bool = True, index_writer: bool = True, announce: bool = True) -> int:
    """Run until SIGTERM/SIGINT: the database is already migrated by whoever started us."""
    from api.jobs import JobWorker
    from api.logging import configure_logging
    from api.runtime import Refresher
    from api.vector_keeper import vector_keeper
    from indexer.sync import IndexWorker
    from indexer.whoosh_index import WhooshIndex
    from kb.db import make_engine
    from kb.dictionary import install_segmenter_from_db
    from kb.settings import get_settings

    settings = get_settings()
    configure_logging(json_lines=settings.log_json)
    # an import's write transaction lets go of the GIL at every statement and, at Python's 5 ms
    # default, waited that long for it behind the index writer segmenting the imported rows —
    # with SQLite's write lock held, so every agent's save waited too
    sys.setswitchinterval(SWITCH_INTERVAL)
    if settings.background_nice and hasattr(os, "nice"):
        # agents' requests first: imports, rebuilds and training (its child inherits this) take
        # the CPU the web workers leave (bench/write_load.py, docs/operations.md)
        os.nice(settings.background_nice)
    engine = make_engine(settings.database_url, settings=settings)
    install_segmenter_from_db(engine, settings.jieba_cache_dir)
    # a dictionary saved on any node reaches this process too: without it the index kept the old
    # text version (a new typo never acted on suggestions) and training kept the old dictionary
    # (every candidate refused at promotion) until a restart
    dictionary = Refresher(engine, None, settings.jieba_cache_dir, settings.model_poll_seconds)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    index = WhooshIndex(settings.index_dir, settings.jieba_cache_dir)
    parts = [dictionary]
    if index_writer:
        parts.append(IndexWorker(engine, index, settings.var_dir / "indexer.lock", interval=settings.index_poll_seconds,
                                 retention_days=settings.feed_retention_days))
        parts.append(vector_keeper(engine, settings))
    worker = JobWorker(engine, settings, index, poll_seconds=settings.job_poll_seconds) if jobs else None
    if worker is not None:
        parts.append(worker)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for part in parts:
        part.start()
    if announce:
        what = " + ".join(name for name, on in (("jobs", jobs), ("index writer", index_writer)) if on)
        print(f"知库 worker running on node {worker.node if worker else index.root} ({what}); SIGTERM to stop",
              flush=True)
    stop.wait()
    for part in reversed(parts):
        part.stop()
    index.close()
    engine.dispose()
    return 0
