"""Where a queued import's file waits: beside a SQLite database file, in the database otherwise.

Why not in SQLite: a 20,000-row sheet is 23.7 MB. Written into the ``job_input`` row it held
SQLite's one write lock for ~60 ms, grew the WAL by 5,800 pages and set off a checkpoint of
all of them, and every agent's save in that second waited: creation p99 36 → 261 ms in
``bench/write_load.py`` with no import running at all, only the upload queued. SQLite means
one node, so a file in a directory beside the database (``zhiku.sqlite3-uploads``, as its
``-wal`` sits beside it) is reachable by every process that may run the import (the web
workers queue it, the background process or ``python -m api worker`` runs it). On
PostgreSQL the bytes stay in the row: any node's worker may run the job, and the upload
does not block other writers there.

Each file is written to a temporary name, flushed to disk and renamed, so a name in the
database always means a whole file. A file whose job row never committed (the process died
in between) is removed by ``sweep``."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from kb.models import JobInput

SUFFIX = ".upload"


def directory(bind: Engine | Connection) -> Path | None:
    """The uploads directory of this database: None where the bytes stay in the row
    (PostgreSQL, an in-memory SQLite)."""
    url = bind.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return beside(Path(url.database))


def beside(database_file: Path) -> Path:
    """``<database file>-uploads``: the folder goes with its database, as its ``-wal`` does."""
    return database_file.with_name(f"{database_file.name}-uploads")


def put(directory: Path, content: bytes) -> str:
    """Store ``content`` under a new name in ``directory``; returns the name."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(12)}{SUFFIX}"
    partial = directory / f"{name}.partial"
    with open(partial, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, directory / name)
    return name


def get(directory: Path, name: str) -> bytes | None:
    """The stored bytes, or None when the file is gone."""
    try:
        return (directory / _plain(name)).read_bytes()
    except FileNotFoundError:
        return None


def remove(directory: Path, name: str) -> None:
    (directory / _plain(name)).unlink(missing_ok=True)


def sweep(session: Session, directory: Path, *, older_than_seconds: float = 3600) -> int:
    """Remove files no job refers to (and leftover partial writes) older than the given age:
    the age keeps a file whose job is being committed right now. Returns how many went."""
    if not directory.is_dir():
        return 0
    referenced = set(session.exec(select(JobInput.stored_as).where(JobInput.stored_as.is_not(None))))
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in directory.iterdir():
        if not path.name.endswith((SUFFIX, f"{SUFFIX}.partial")) or path.name in referenced:
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def copy_for_backup(live_db: Path, backup_db: Path) -> int:
    """Copy the files the jobs of ``backup_db`` (an online backup of ``live_db``) name into the
    backup's own uploads folder, ``<backup>-uploads``: a restore then finds the sheets of the
    imports that were queued. A file whose import ended meanwhile is gone and not needed."""
    source, target = beside(live_db), beside(backup_db)
    with closing(sqlite3.connect(backup_db)) as conn:
        rows = conn.execute("SELECT stored_as FROM job_input WHERE stored_as IS NOT NULL")
        names = [name for (name,) in rows]
    copied = 0
    for name in names:
        try:
            path = source / _plain(name)
            target.mkdir(exist_ok=True)
            shutil.copyfile(path, target / path.name)
            copied += 1
        except FileNotFoundError:
            continue
    return copied


def _plain(name: str) -> str:
    """A stored name is ours (hex + suffix): never a path that leaves the directory."""
    if Path(name).name != name or not name.endswith(SUFFIX):
        raise ValueError(f"not an upload name: {name!r}")
    return name
