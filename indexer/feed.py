"""Reading the search change feed in commit-safe order, one cursor per index replica.

Every change appends a ``search_outbox`` row in its own transaction. Nothing is deleted
because one replica applied it: each replica (a node's index directory) keeps its cursor in
its generation (``CURSOR.json``) and reports it in ``index_replica``; retention prunes rows
that every live replica has read and that are older than ``feed_retention_days``.

**Order.** On SQLite one transaction writes at a time, so row ids are commit order and the
cursor is the last id applied. On PostgreSQL ids come from a sequence taken *before* commit:
a row with a lower id can commit after one with a higher id, and a reader that simply went
past the higher id would skip it for good. So every row carries its transaction id
(``pg_current_xact_id()``) and a reader takes only rows of transactions older than the oldest
one of *this database* still running (``horizon``): all of those have ended, so no row can
still appear below the cursor. The cursor is then (txid, id); rows are read in that order.
Applying a row re-reads the entity, so reading one twice is harmless."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, func, not_, or_, text, true
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from kb.db import make_session
from kb.models import FeedPruned, IndexReplica, SearchOutbox

CURSOR_FILE = "CURSOR.json"
# The snapshot first, then each backend's transaction id and database (pg_stat_activity's
# backend_xid and datid are shown for every role's sessions). pg_stat_clear_snapshot: the
# backend list is otherwise cached for the whole transaction.
_CLEAR_STATS = text("SELECT pg_stat_clear_snapshot()")
_HORIZON = text("""
SELECT pg_snapshot_xmax(s)::text::bigint,
       ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x),
       ARRAY(SELECT a.backend_xid::text::bigint FROM pg_stat_activity a
              WHERE a.backend_xid IS NOT NULL
                AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()))
  FROM pg_current_snapshot() AS s""")
_XID32 = 0xFFFF_FFFF


@dataclass(frozen=True, order=True)
class Cursor:
    txid: int = 0      # PostgreSQL: every row of a transaction below this has been applied
    id: int = 0        # the last row applied (SQLite: the only part)

    def to_json(self) -> dict:
        return {"txid": self.txid, "id": self.id}


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def horizon(session: Session) -> int:
    """PostgreSQL: a transaction id below which every transaction that can write this database's
    feed has ended — the oldest transaction of this database still running, else the next id
    to be given out.

    Not ``pg_snapshot_xmin(pg_current_snapshot())``: that is the oldest running transaction of
    the whole server, and one long write in another database of the cluster (a staging copy,
    another application, a test worker) held every node's index back until it ended.

    Why it is safe: a transaction of this database that is running when the snapshot is taken
    is in its in-progress list and still shows its id in pg_stat_activity, read right after
    from the same process array, unless it has ended by then — and then its rows are visible
    to the reads that follow. One that starts later gets an id at or above the snapshot's
    xmax. The in-progress list spans less than 2³¹ ids, so its low 32 bits (backend_xid is a
    32-bit xid) tell them apart."""
    session.execute(_CLEAR_STATS)
    xmax, running, ours = session.execute(_HORIZON).one()
    ours = set(ours)
    return min([x for x in running if x & _XID32 in ours], default=xmax)


def snapshot_cursor(session: Session) -> Cursor:
    """Where a reader that starts now may begin: every change before it is visible to reads
    made from now on (a rebuild takes this *before* reading the tables)."""
    if _postgres(session):
        return Cursor(txid=horizon(session), id=0)
    return Cursor(id=session.exec(select(func.coalesce(func.max(SearchOutbox.id), 0))).one())


def _past(session: Session, after: Cursor):
    """The condition for rows past ``after`` in feed order."""
    if not _postgres(session):
        return SearchOutbox.id > after.id
    return or_(SearchOutbox.txid > after.txid, and_(SearchOutbox.txid == after.txid, SearchOutbox.id > after.id))


def read(session: Session, after: Cursor, *, limit: int) -> tuple[list[SearchOutbox], Cursor]:
    """Up to ``limit`` rows past ``after`` in commit-safe order, and the cursor after them."""
    if not _postgres(session):
        rows = list(session.exec(select(SearchOutbox).where(SearchOutbox.id > after.id)
                                 .order_by(SearchOutbox.id).limit(limit)))
        return rows, Cursor(id=rows[-1].id) if rows else after
    below = horizon(session)
    rows = list(session.exec(select(SearchOutbox).where(_past(session, after), SearchOutbox.txid < below)
                             .order_by(SearchOutbox.txid, SearchOutbox.id).limit(limit)))
    if len(rows) == limit:
        return rows, Cursor(txid=rows[-1].txid, id=rows[-1].id)
    return rows, max(after, Cursor(txid=below, id=0))     # everything below the horizon is applied


def pending(session: Session, after: Cursor) -> int:
    """Rows past ``after`` (including those of transactions still running)."""
    return session.exec(select(func.count()).select_from(SearchOutbox).where(_past(session, after))).one()


def backlog(session: Session, after: Cursor | None) -> tuple[int, datetime | None]:
    """(rows not yet applied, when the oldest of them was written); every row without a cursor."""
    where = _past(session, after) if after is not None else true()
    count, oldest = session.exec(select(func.count(), func.min(SearchOutbox.created_at)).where(where)).one()
    return count, oldest


def ahead(session: Session, cursor: Cursor) -> bool:
    """A cursor past anything this database has written: the replica followed another
    database (restored from a backup, a new cluster) and must rebuild, or it would skip
    every change until the new database caught up with its old position."""
    now = snapshot_cursor(session)
    return cursor.txid > now.txid if _postgres(session) else cursor.id > now.id


# -- the cursor of a generation ------------------------------------------------------------

def load_cursor(directory: Path) -> Cursor | None:
    try:
        data = json.loads((directory / CURSOR_FILE).read_text(encoding="utf-8"))
        return Cursor(txid=int(data["txid"]), id=int(data["id"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def cursor_of(index) -> Cursor | None:
    """The cursor of ``index``'s current generation (None: no generation, or none recorded)."""
    generation = index.current_generation()
    return load_cursor(index.directory(generation)) if generation else None


def save_cursor(directory: Path, cursor: Cursor) -> None:
    tmp = directory / f"{CURSOR_FILE}.tmp"
    tmp.write_text(json.dumps(cursor.to_json()), encoding="utf-8")
    os.replace(tmp, directory / CURSOR_FILE)


def replica_name(index_root: Path) -> str:
    """This node's replica: the host and which index directory on it."""
    digest = hashlib.sha1(str(index_root.resolve()).encode()).hexdigest()[:10]
    return f"{socket.gethostname()[:60]}-{digest}"


# -- registry and retention ----------------------------------------------------------------

def report(engine: Engine, name: str, generation: str, cursor: Cursor, *, register: bool = False) -> bool:
    """Record this replica's cursor. A rebuild registers the replica; afterwards a missing row
    means retention dropped it (it was silent too long, rows it never read may be gone): the
    answer is False and the replica must rebuild."""
    now = datetime.now(UTC)
    with make_session(engine, write=True) as session:
        row = session.get(IndexReplica, name)
        if row is None and not register:
            return False
        row = row or IndexReplica(name=name, updated_at=now)
        row.generation, row.cursor_txid, row.cursor_id, row.updated_at = generation, cursor.txid, cursor.id, now
        session.add(row)
        session.commit()
        return True



def _pruned(session: Session) -> FeedPruned:
    """The record of how far the feed was pruned, locked for this transaction (PostgreSQL: row
    lock; SQLite: the write lock the session took). The migration that made the table wrote
    it; made again when missing (tables emptied by hand: nothing of theirs was pruned)."""
    row = session.get(FeedPruned, 1, with_for_update=True)
    if row is None:
        row = FeedPruned(id=1)
        session.add(row)
        session.flush()
    return row


def prune(engine: Engine, *, retention: timedelta) -> int:
    """Delete rows every live replica has read and that are older than ``retention``.
    Replicas silent for longer than the retention are dropped first: when they return they
    find themselves unregistered, and rebuild unless nothing past their cursor was pruned
    (``rejoin``). SQLite: the newest row is never pruned — a table emptied would hand out its
    ids again from 1, below every replica's cursor, and those changes would never be read."""
    now = datetime.now(UTC)
    with make_session(engine, write=True) as session:
        record = _pruned(session)          # first: a replica rejoining meanwhile waits, or is seen
        session.exec(delete(IndexReplica).where(IndexReplica.updated_at < now - retention))
        replicas = list(session.exec(select(IndexReplica)))
        if not replicas:                 # nobody left to read them: age alone decides
            read_by_all = true()
        else:
            low = min(Cursor(txid=r.cursor_txid, id=r.cursor_id) for r in replicas)
            read_by_all = not_(_past(session, low))
        doomed = and_(read_by_all, SearchOutbox.created_at < now - retention)
        if not _postgres(session):
            newest = session.exec(select(func.max(SearchOutbox.id))).one()
            doomed = and_(doomed, SearchOutbox.id != newest)
        last = session.exec(select(SearchOutbox.txid, SearchOutbox.id).where(doomed)
                            .order_by(SearchOutbox.txid.desc(), SearchOutbox.id.desc()).limit(1)).first()
        result = session.exec(delete(SearchOutbox).where(doomed))
        if last is not None:
            last_cursor = Cursor(txid=last[0] or 0, id=last[1])
            if last_cursor > Cursor(txid=record.cursor_txid, id=record.cursor_id):
                record.cursor_txid, record.cursor_id = last_cursor.txid, last_cursor.id
            record.pruned_at = now
            session.add(record)
        session.commit()
        return result.rowcount or 0


def rejoin(engine: Engine, name: str, generation: str, cursor: Cursor) -> bool:
    """Register a replica that found itself unregistered, when no row past its cursor was
    pruned: its index is then complete up to the cursor and it reads on from there. False when
    rows it never read may be gone: it must rebuild."""
    with make_session(engine, write=True) as session:
        record = _pruned(session)
        if Cursor(txid=record.cursor_txid, id=record.cursor_id) > cursor:
            session.commit()
            return False
        session.merge(IndexReplica(name=name, generation=generation, cursor_txid=cursor.txid,
                                   cursor_id=cursor.id, updated_at=datetime.now(UTC)))
        session.commit()
        return True
