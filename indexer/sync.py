"""The only writer: drains the search outbox into the current index generation.

``drain_once`` takes outbox rows in id order, re-reads each entity's *current* row, and
upserts it when it is indexable (a resolved or closed case) or deletes it otherwise; it
commits Whoosh and only then deletes the outbox rows it handled. A crash between the two
replays rows harmlessly (update_document on a unique id is idempotent). Writes that
commit while a batch is being applied carry their own, later outbox rows."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import select

from indexer.documents import ENTITIES, doc_id, document_for, is_indexable
from indexer.rebuild import rebuild
from indexer import integrity
from indexer.whoosh_index import WRITE_DAMAGE, WhooshIndex
from kb.db import make_session
from kb.models import SearchOutbox
from kb.text import current

log = logging.getLogger("zhiku.indexer")


def drain_once(engine: Engine, index: WhooshIndex, *, batch: int = 1000) -> int:
    """Apply up to ``batch`` outbox rows; returns how many rows were handled."""
    with make_session(engine) as session:
        rows = list(session.exec(select(SearchOutbox).order_by(SearchOutbox.id).limit(batch)))
        if not rows:
            return 0
        seg = index.segmenter()
        keys = sorted({(r.entity, r.entity_id) for r in rows if r.entity in ENTITIES})
        documents = {}
        for entity, model in ENTITIES.items():
            ids = [i for e, i in keys if e == entity]
            if ids:
                for row in session.exec(select(model).where(model.id.in_(ids))):
                    if is_indexable(row):
                        documents[(entity, row.id)] = document_for(row, seg)
    generation, ix = index.open_current()
    try:
        writer = ix.writer(limitmb=128)
        try:
            for key in keys:
                if key in documents:
                    writer.update_document(**documents[key])
                else:
                    writer.delete_by_term("doc_id", doc_id(*key))
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
    except WRITE_DAMAGE as exc:      # the rows stay in the outbox for the rebuilt generation
        raise index.corrupt(generation, exc) from exc
    integrity.record(index.directory(generation))
    handled = [r.id for r in rows]
    with make_session(engine, write=True) as session:
        session.exec(delete(SearchOutbox).where(SearchOutbox.id.in_(handled)))
        session.commit()
    return len(rows)


def drain_all(engine: Engine, index: WhooshIndex, *, batch: int = 1000) -> int:
    total = 0
    while n := drain_once(engine, index, batch=batch):
        total += n
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


class IndexWorker:
    """Runs in whichever process holds ``<var>/indexer.lock``: exactly one writer per
    deployment, whether embedded in a uvicorn worker or run as ``python -m indexer worker``.
    Rebuilds first when the index is missing or was built with another schema/text version."""

    def __init__(self, engine: Engine, index: WhooshIndex, lock_path: Path, *, interval: float = 0.5) -> None:
        self.engine = engine
        self.index = index
        self.lock = FileLock(str(lock_path))
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="zhiku-indexer", daemon=True)
        self.holds_lock = False
        self.last_error: str | None = None
        self._verified = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def step(self) -> int:
        """One round as the writer: rebuild when the index is missing, damaged, of another
        schema, written with another dictionary than the one in force, or when an operator
        asked for it (``python -m indexer rebuild`` while this writer runs); then drain."""
        seg = current()
        if not self._verified:
            self.verify()
        problem = self.index.problem(seg.version)
        requested = rebuild_requested(self.index)
        if problem is None and requested:
            problem = "requested by an operator"
        if problem is not None:
            log.info("rebuilding index", extra={"reason": problem})
            rebuild(self.engine, self.index, seg.snapshot)
            if requested:
                requested.unlink(missing_ok=True)
        return drain_all(self.engine, self.index)

    def verify(self) -> str | None:
        """Check the live generation's files against their checksums, once per writer start
        (a damaged disk or copy shows up at a restart); a mismatch marks it for a rebuild."""
        self._verified = True
        generation = self.index.current_generation()
        if generation is None or self.index.problem(generation=generation):
            return None
        damage = integrity.verify(self.index.directory(generation))
        if damage is not None:
            self.index.corrupt(generation, damage)
        return damage

    def run(self) -> None:
        while not self._stop.is_set():
            if not self.holds_lock:
                try:
                    self.lock.acquire(timeout=0)
                    self.holds_lock = True
                    log.info("this process is the index writer")
                except Timeout:
                    self._stop.wait(2.0)
                    continue
            try:
                self.step()
                self.last_error = None
            except Exception as exc:  # keep the writer alive; the outbox keeps the work
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("index sync failed")
            self._stop.wait(self.interval)
        if self.holds_lock:       # by the thread that acquired it: filelock's counts are per thread
            self.lock.release()
            self.holds_lock = False
