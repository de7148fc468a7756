"""The suggestion log, written in batches by a thread of each process instead of one write
transaction per suggestion.

Why: a suggestion only reads, except for its log row; that row's transaction was ~8 % of a
suggestion and, on SQLite, took the write lock every agent's save needs. Now a suggestion
appends its row to this process's pending list and answers; the writer inserts what is
pending every ``flush_seconds`` (``ZHIKU_SUGGESTION_LOG_FLUSH_SECONDS``) in one transaction.

What can be lost: nothing on a clean stop (``stop`` flushes). On a crash (kill -9, power),
the rows of the last ``flush_seconds`` — plus, while the database is unreachable, what
waits for it, up to ``max_pending`` rows (the oldest are dropped beyond that, with a
warning). A lost row only means one served proposal is missing from the log.

Acceptance stays exact when an agent saves a case before its suggestion's row is written:
- served by this process: the save writes a copy of the pending row with its link
  (``pending_row``); the writer's later upsert of the same row changes nothing, and if the
  save rolls back, the row is still pending;
- served by another worker or node: the save writes the link alone (the agent's final
  type and priority, ``source = "pending"``); when the row arrives it is merged into that
  link (an upsert) and acceptance is computed then (``flush``).
An id says when it was served (``new_id``: milliseconds, then random), so an id that is
neither written nor pending and older than ``PENDING_GRACE_SECONDS`` is unknown (422), not
a link waiting for a row that will never come."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from kb.db import session_scope
from kb.models import SuggestionLog

log = logging.getLogger("zhiku.suggestion_log")
FLUSH_SECONDS = 0.25
MAX_PENDING = 50_000
PENDING_GRACE_SECONDS = 60      # longer than any flush interval plus the clock skew between nodes
PROPOSAL_COLUMNS = ("created_at", "actor", "model_version", "source", "type_label", "type_confidence",
                    "priority_label", "priority_confidence", "details")

_writers: weakref.WeakSet[SuggestionLogWriter] = weakref.WeakSet()


def new_id() -> str:
    """32 hex digits: the serving time in milliseconds (12), then 80 random bits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def log_row(**values: Any) -> dict[str, Any]:
    """A row of the log as a plain dict with every column, as ``SuggestionLog(**values).model_dump()``
    gives it: building the ORM object (instrumented attributes) to dump it at once was ~70 µs of
    every suggestion, the dict ~3 µs."""
    missing = _REQUIRED.difference(values)
    unknown = set(values).difference(_DEFAULTS, _REQUIRED)
    if missing or unknown:
        raise TypeError(f"suggestion log row: missing {sorted(missing)}, unknown {sorted(unknown)}")
    return {**_DEFAULTS, "details": {}, **values}


_REQUIRED = frozenset(name for name, f in SuggestionLog.model_fields.items() if f.is_required())
_DEFAULTS = {name: f.get_default(call_default_factory=True) for name, f in SuggestionLog.model_fields.items()
             if not f.is_required()}


def may_still_arrive(suggestion_id: str) -> bool:
    """Could another process still be about to write this id's row (served recently)?"""
    try:
        served = int(suggestion_id[:12], 16) / 1000
    except ValueError:
        return False
    return len(suggestion_id) == 32 and -PENDING_GRACE_SECONDS < time.time() - served < PENDING_GRACE_SECONDS


class SuggestionLogWriter:
    def __init__(self, engine: Engine, *, flush_seconds: float = FLUSH_SECONDS, max_pending: int = MAX_PENDING):
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()       # one flush at a time (the thread, stop, a test)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    # -- the request side --------------------------------------------------------------------

    def record(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._pending[row["id"]] = row
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    log.warning("suggestion log rows dropped", extra={"dropped": self.dropped})

    def peek(self, suggestion_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._pending.get(suggestion_id)
        return dict(row) if row is not None else None

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- the writer side ---------------------------------------------------------------------

    def start(self) -> None:
        """Write in the background; this process's case saves see what is pending here."""
        _writers.add(self)
        self._thread = threading.Thread(target=self._run, name="suggestion-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write everything pending (a clean stop loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.flush()
        except Exception:                # stopping must not fail; say what is lost
            log.exception("suggestion log rows not written at stop", extra={"rows": self.pending})
        _writers.discard(self)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:            # the database may be down: keep the rows, retry
                log.warning("suggestion log flush failed; retrying", exc_info=True)

    def flush(self) -> int:
        """Insert what is pending in one transaction; rows merge into a link a save wrote first."""
        with self._flush_lock:
            with self._lock:
                rows = list(self._pending.values())
            if not rows:
                return 0
            with session_scope(self.engine, write=True) as session:
                session.execute(_upsert(self.engine), rows)
                session.commit()
            with self._lock:
                for row in rows:
                    if self._pending.get(row["id"]) is row:
                        del self._pending[row["id"]]
            return len(rows)


def _insert(engine: Engine):
    """The dialect's INSERT of suggestion-log rows, which knows ON CONFLICT."""
    return {"sqlite": sqlite, "postgresql": postgresql}[engine.dialect.name].insert(SuggestionLog)


def insert_ignoring_duplicates(session):
    """INSERT of suggestion-log rows that leaves a row already there (or being committed) alone."""
    return _insert(session.get_bind()).on_conflict_do_nothing(index_elements=[SuggestionLog.__table__.c.id])


def _upsert(engine: Engine):
    """INSERT, or — when a case save already wrote the link — fill in the proposal and compute
    acceptance against the agent's final choice stored with the link."""
    stmt = _insert(engine)
    table = SuggestionLog.__table__
    values = {name: stmt.excluded[name] for name in PROPOSAL_COLUMNS}
    for head in ("type", "priority"):
        label, final = stmt.excluded[f"{head}_label"], table.c[f"final_{head}"]
        values[f"{head}_accepted"] = case((label.is_(None) | final.is_(None), None), else_=label == final)
    return stmt.on_conflict_do_update(index_elements=[table.c.id], set_=values)


def pending_row(suggestion_id: str) -> dict[str, Any] | None:
    """A copy of the row of a suggestion served by this process and not written yet."""
    for writer in list(_writers):
        row = writer.peek(suggestion_id)
        if row is not None:
            return row
    return None

