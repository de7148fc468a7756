"""The node's background process: the job worker and the index writer, apart from the web
workers.

Why a process of its own: run as a thread of a uvicorn worker, a 20,000-row import competed
for that worker's GIL with the agents' requests, and requests waiting on each of their
database calls behind a CPU-bound thread slowed to seconds (measured with
``bench/write_load.py`` at 10 creations + 20 suggestions/s: creation p99 88 ms → 8.4 s during
the import). ``python -m api serve`` starts this process next to its web workers (and
restarts it when it dies); ``python -m api worker`` is the same process run by hand, for a
node whose web workers run with ``ZHIKU_EMBEDDED_WORKER=false ZHIKU_EMBEDDED_INDEXER=false``.

Priorities (Linux): the index writer and the vector keeper run in a child process niced as a
whole; this process keeps normal priority, its jobs' CPU work (checking and preparing rows,
rebuilding, training) is niced thread by thread, and an import's short write transactions run
on a thread that is not (``api.priority``). Niced as one process, an import's transaction
waited for the CPU with SQLite's write lock held while the index writer segmented the rows it
had stored: 33.6 s of lock held for 20,000 rows, up to 0.48 s at a time, and every agent's save
waited behind it (bench/write_load.py; 9.5 s and 0.09 s now)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading

from api.serve import SWITCH_INTERVAL


def run(*, jobs: bool = True, index_writer: bool = True, announce: bool = True, parent: int | None = None) -> int:
    """Run until SIGTERM/SIGINT (or, given ``parent``, until that process is gone): the database
    is already migrated by whoever started us.

    With both parts, the index writer and the vector keeper run in a child process of their own,
    niced as a whole, and this process keeps normal priority for the jobs' write transactions
    while the jobs' CPU work is niced thread by thread (``api.priority``)."""
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
    nice = settings.background_nice if hasattr(os, "nice") else 0
    per_thread = sys.platform.startswith("linux")
    indexer_child = None
    if jobs and index_writer and nice and per_thread:
        indexer_child, index_writer = _IndexerChild(), False
    if nice and (not jobs or not per_thread):
        # agents' requests first: indexing and embedding take the CPU the web workers leave
        # (bench/write_load.py, docs/operations.md)
        os.nice(nice)
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
    worker = None
    if jobs:
        worker = JobWorker(engine, settings, index, poll_seconds=settings.job_poll_seconds,
                           nice=nice if per_thread else 0)
        parts.append(worker)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for part in parts:
        part.start()
    if indexer_child is not None:
        indexer_child.start()
    if announce:
        what = " + ".join(name for name, on in (("jobs", jobs), ("index writer", index_writer or indexer_child))
                          if on)
        print(f"知库 worker running on node {worker.node if worker else index.root} ({what}); SIGTERM to stop",
              flush=True)
    while not stop.wait(0.5):
        if parent is not None and os.getppid() != parent:     # the process that started us is gone
            break
        if indexer_child is not None:
            indexer_child.keep_alive()
    if indexer_child is not None:
        indexer_child.stop()
    for part in reversed(parts):
        part.stop()
    index.close()
    engine.dispose()
    return 0


def _index_process(parent: int) -> None:
    run(jobs=False, index_writer=True, announce=False, parent=parent)


class _IndexerChild:
    """The index writer's process, restarted when it dies; it ends by itself when we do, even
    after a SIGKILL (it watches its parent), so a restarted worker never meets an orphan."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.Process | None = None

    def start(self) -> None:
        self._process = self._context.Process(target=_index_process, args=(os.getpid(),),
                                              name="zhiku-indexer", daemon=False)
        self._process.start()

    def keep_alive(self) -> None:
        if self._process is not None and not self._process.is_alive():
            self.start()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()                 # SIGTERM: the writer commits or drops its batch
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
