"""The only writer of a node's index: applies the search change feed to the current generation.

``drain_once`` reads the feed past this generation's cursor in commit-safe order
(``indexer.feed``), re-reads each entity's *current* row, and upserts it when it is
indexable (a resolved or closed case, a published article) or deletes it otherwise; it
commits Whoosh and only then moves the cursor. A crash between the two replays rows
harmlessly (update_document on a unique id is idempotent). Feed rows are never deleted
here: other nodes' replicas read them too; retention prunes them (``feed.prune``)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy.engine import Engine
from sqlmodel import select

from indexer import feed, integrity, packed
from indexer.documents import ENTITIES, doc_id, document_for, is_indexable
from indexer.merge_policy import merge_tiers
from indexer.rebuild import rebuild
from indexer.whoosh_index import WRITE_DAMAGE, IndexUnavailable, WhooshIndex
from kb.db import make_session
from kb.node_loop import NodeLoop
from kb.text import current

log = logging.getLogger("zhiku.indexer")
REPORT_SECONDS = 30        # how often a replica records its cursor in index_replica
PRUNE_SECONDS = 3600       # how often the writer prunes the feed
ROUNDS_PER_STEP = 20       # feed batches applied per writer round before it looks at its other duties


def drain_once(engine: Engine, index: WhooshIndex, *, batch: int = 1000) -> int:
    """Apply up to ``batch`` feed rows past the current generation's cursor; returns how many."""
    generation = index.current_generation()
    if generation is None:
        raise IndexUnavailable("no index generation yet")
    directory = index.directory(generation)
    cursor = feed.load_cursor(directory)
    if cursor is None:
        raise IndexUnavailable(f"generation {generation} has no feed cursor: rebuild")
    with make_session(engine) as session:
        rows, after = feed.read(session, cursor, limit=batch)
        if not rows:
            if after != cursor:
                feed.save_cursor(directory, after)
            return 0
        seg = index.segmenter(generation)
        keys = sorted({(r.entity, r.entity_id) for r in rows if r.entity in ENTITIES})
        documents = {}
        for entity, model in ENTITIES.items():
            ids = [i for e, i in keys if e == entity]
            if ids:
                for row in session.exec(select(model).where(model.id.in_(ids))):
                    if is_indexable(row):
                        documents[(entity, row.id)] = document_for(row, seg)
    opened, ix = index.open_current()
    if opened != generation:
        return 0                      # switched meanwhile: the next round reads the new cursor
    try:
        if documents or _any_indexed(ix, [k for k in keys if k not in documents]):
            writer = ix.writer(limitmb=128)
            try:
                # the old version of each entity goes through one reader of the index; Whoosh's
                # update_document opens a new reader of every segment per document (5 ms each at
                # 100k cases: 250 ms of a 50-row import chunk's ~400 ms commit)
                with writer.searcher() as searcher:
                    for key in keys:
                        writer.delete_by_term("doc_id", doc_id(*key), searcher=searcher)
                for key in keys:
                    if key in documents:
                        writer.add_document(**documents[key])
                packed.commit_packed(writer, directory, mergetype=merge_tiers)
            except BaseException:
                if not writer.is_closed:
                    writer.cancel()
                raise
            integrity.record(directory)
    except WRITE_DAMAGE as exc:      # the cursor stays: the rebuilt generation starts before these rows
        raise index.corrupt(generation, exc) from exc
    feed.save_cursor(directory, after)
    return len(rows)


def _any_indexed(ix, keys: list[tuple[str, int]]) -> bool:
    """Whether any of these entities has a live document. Most changes on a busy desk are to
    open cases, which were never indexed: a batch of only those moves the cursor without a
    commit, so every searcher of every worker is not reopened (and its per-searcher memos
    thrown away) twice a second for nothing."""
    if not keys:
        return False
    with ix.searcher() as searcher:
        return any(searcher.document_number(doc_id=doc_id(*key)) is not None for key in keys)


def drain_all(engine: Engine, index: WhooshIndex, *, batch: int = 1000, rounds: int | None = None) -> int:
    """Apply batches until the feed is caught up, or ``rounds`` batches: the writer's loop
    passes a bound so a feed that never runs dry (agents resolving cases all day) cannot
    starve its other duties (rebuild requests, reports, pruning)."""
    total, done = 0, 0
    while (rounds is None or done < rounds) and (n := drain_once(engine, index, batch=batch)):
        total += n
        done += 1
    return total


REBUILD_REQUEST = "REBUILD_REQUESTED"


def rebuild_requested(index: WhooshIndex) -> Path | None:
    path = index.root / REBUILD_REQUEST
    return path if path.exists() else None


def request_rebuild(index: WhooshIndex) -> Path:
    """Ask the running writer to rebuild: only the holder of the writer lock writes the index,
    so a rebuild never races the writer draining changes into the old generation."""
    index.root.mkdir(parents=True, exist_ok=True)
    path = index.root / REBUILD_REQUEST
    path.write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
    return path


class IndexWorker(NodeLoop):
    """Runs in whichever process holds ``<var>/indexer.lock``: exactly one writer per
    deployment, whether embedded in a uvicorn worker or run as ``python -m indexer worker``.
    Rebuilds first when the index is missing or was built with another schema/text version."""

    thread_name = "zhiku-indexer"
    failure = "index sync failed"      # the outbox keeps the work
    log = log

    def __init__(self, engine: Engine, index: WhooshIndex, lock_path: Path, *, interval: float = 0.5,
                 retention_days: float = 7) -> None:
        super().__init__(lock_path, interval)
        self.engine = engine
        self.index = index
        self._verified = False
        self.replica = feed.replica_name(index.root)
        self.retention = timedelta(days=retention_days)
        self._registered = True
        self._checked_cursor = False        # once per start: is the cursor from this database?
        self._reported_at = 0.0
        self._pruned_at = 0.0

    def took_lock(self) -> None:
        log.info("this process is the index writer")

    def step(self) -> int:
        """One round as the writer: rebuild when the index is missing, damaged, of another
        schema, written with another dictionary than the one in force, or when an operator
        asked for it (``python -m indexer rebuild`` while this writer runs); then drain."""
        seg = current()
        if not self._verified:
            self.verify()
        problem = self.index.problem(seg.version)
        requested = rebuild_requested(self.index)
        cursor = feed.cursor_of(self.index) if problem is None else None
        if problem is None and cursor is None:
            problem = "no feed cursor (written before the change feed)"
        if problem is None and not self._checked_cursor:
            with make_session(self.engine) as session:
                if feed.ahead(session, cursor):
                    problem = "feed cursor ahead of the database (restored from a backup?)"
            self._checked_cursor = True
        if problem is None and not self._registered:
            problem = ("unregistered, and rows past its cursor were pruned (silent longer than the retention, "
                       "or a new host name or directory)")
        if problem is None and requested:
            problem = "requested by an operator"
        if problem is not None:
            log.info("rebuilding index", extra={"reason": problem})
            rebuild(self.engine, self.index, seg.snapshot)
            self._registered, self._reported_at = True, time.monotonic()
            if requested:
                requested.unlink(missing_ok=True)
        applied = drain_all(self.engine, self.index, rounds=ROUNDS_PER_STEP)
        self._housekeeping()
        return applied

    def _housekeeping(self) -> None:
        """Report this replica's cursor now and then; prune the feed once an hour."""
        now = time.monotonic()
        if now - self._reported_at >= REPORT_SECONDS:
            generation = self.index.current_generation()
            cursor = feed.cursor_of(self.index)
            if cursor is not None:
                self._registered = feed.report(self.engine, self.replica, generation, cursor)
                if not self._registered and feed.rejoin(self.engine, self.replica, generation, cursor):
                    # a new host name (a container restarted), a moved directory, or back from a
                    # long silence, with nothing it has not read pruned: no rebuild needed
                    log.info("index replica registered again", extra={"replica": self.replica})
                    self._registered = True
            self._reported_at = now
        if now - self._pruned_at >= PRUNE_SECONDS:
            pruned = feed.prune(self.engine, retention=self.retention)
            if pruned:
                log.info("pruned the search feed", extra={"rows": pruned})
            self._pruned_at = now

    def verify(self) -> str | None:
        """Check the live generation (its files against their checksums too), once per writer
        start: a damaged disk or copy shows up at a restart; a mismatch marks it for a rebuild."""
        self._verified = True
        problem = self.index.verify()
        if problem is None:
            self._pack_older_segments()
        return problem

    def _pack_older_segments(self) -> None:
        """Segments written before packed postings existed (or by a writer stopped between its
        commit and packing) are packed once, at the writer's start (``indexer.packed``)."""
        generation, ix = self.index.open_current()
        directory = self.index.directory(generation)
        started = time.monotonic()
        packed_now = packed.write_missing(ix, directory)
        if packed_now:
            integrity.record(directory)
            log.info("packed older segments' postings",
                     extra={"segments": packed_now, "seconds": round(time.monotonic() - started, 1)})


def rebuild_now_or_ask(engine: Engine, index: WhooshIndex, lock_path: Path, *, timeout: float,
                       stopping: threading.Event | None = None) -> dict:
    """Rebuild this node's replica: here when no writer runs (this process takes the writer
    lock for the rebuild), else by asking the running writer and waiting for it — either way
    only the lock holder writes. Raises TimeoutError when the writer did not within ``timeout``."""
    stopping = stopping or threading.Event()
    before = index.current_generation()
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        request_rebuild(index)
        deadline = time.monotonic() + timeout
        while rebuild_requested(index) and time.monotonic() < deadline and not stopping.is_set():
            stopping.wait(0.5)
        if rebuild_requested(index):
            raise TimeoutError(f"the index writer did not rebuild within {timeout:.0f} s; the request stays")
        return {"generation": index.current_generation(), "previous": before, "by": "writer",
                "documents": index.stats()["documents"]}
    try:
        generation = rebuild(engine, index, current().snapshot)
        drained = drain_all(engine, index)
    finally:
        lock.release()
    return {"generation": generation, "previous": before, "by": "this process",
            "documents": index.stats()["documents"], "later_changes": drained}
