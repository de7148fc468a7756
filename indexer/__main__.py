"""python -m indexer worker | rebuild | reconcile | stats | verify

    worker     be the index writer (when the service runs with ZHIKU_EMBEDDED_INDEXER=false)
    rebuild    write a fresh generation from the database and switch to it (when a writer
               runs — the service or `worker` — it is asked to, and this waits for it)
    reconcile  compare the database with the index and enqueue every difference
    stats      generation, versions, document count, outbox backlog
    verify     check the live generation's files against their checksums

An unusable index (missing, damaged) is reported as JSON with exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime

REBUILD_WAIT_SECONDS = 1800


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="知库 search index")
    parser.add_argument("command", choices=["worker", "rebuild", "reconcile", "stats", "verify"])
    args = parser.parse_args(argv)

    from indexer import feed
    from indexer.rebuild import reconcile
    from indexer.sync import IndexWorker, rebuild_now_or_ask
    from indexer.whoosh_index import IndexUnavailable, WhooshIndex
    from kb.db import make_session
    from kb.dictionary import install_segmenter_from_db
    from kb.settings import get_settings
    from kb.setup import prepare_database

    settings = get_settings()
    engine = prepare_database(settings)
    segmenter = install_segmenter_from_db(engine, settings.jieba_cache_dir)
    index = WhooshIndex(settings.index_dir, settings.jieba_cache_dir)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "worker":
        worker = IndexWorker(engine, index, settings.var_dir / "indexer.lock", interval=settings.index_poll_seconds,
                             retention_days=settings.feed_retention_days)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        worker.start()
        print("index writer running (Ctrl+C to stop)", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        worker.stop()
    elif args.command == "rebuild":
        print("rebuilding (or asking the running index writer to)…", flush=True)
        try:
            done = rebuild_now_or_ask(engine, index, settings.var_dir / "indexer.lock", timeout=REBUILD_WAIT_SECONDS)
        except TimeoutError as exc:
            print(json.dumps({"problem": str(exc)}))
            return 1
        print(f"generation {done['generation']} is live (was {done['previous']}; {done['documents']} documents; "
              f"rebuilt by {done['by']})")
    elif args.command == "reconcile":
        try:
            print(json.dumps(reconcile(engine, index, now=datetime.now(UTC)), ensure_ascii=False))
        except IndexUnavailable as exc:
            print(json.dumps({"problem": str(exc), "hint": "python -m indexer rebuild"}, ensure_ascii=False))
            return 1
    elif args.command == "verify":
        problem = index.verify()
        print(json.dumps({"generation": index.current_generation(), "problem": problem}, ensure_ascii=False))
        return 1 if problem else 0
    else:
        with make_session(engine) as session:
            backlog, _ = feed.backlog(session, feed.cursor_of(index))
        stats = index.stats()
        print(json.dumps({**stats, "outbox_pending": backlog}, ensure_ascii=False, indent=1))
        return 1 if stats["problem"] else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
