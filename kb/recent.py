"""Per-process memory of reads that every request needs but that change rarely: which user a
key belongs to, the active taxonomy labels, the audiences a reader may see.

Why: each was a database round trip per suggestion (a tenth of its time at 100k cases).
How it stays correct:
- in this process, a commit that wrote a row a memo depends on (its ``watch`` models: a
  user, key, label, audience) empties that memo at once (hooked on the ORM session), so
  a revoked key fails on the next request here (the burst rule's memo of open cases is
  updated in place by a case's commit instead: ``kb.cases.bursts``);
- in other processes (the other web workers, other nodes) an entry lives at most
  ``seconds`` (``ZHIKU_CACHE_SECONDS``, default 1 s): that is how long a revocation or a
  deactivated label can take to be seen there.
Only the request path reads through this memory; administrative checks (promotion,
validation on save) read the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

T = TypeVar("T")
DEFAULT_SECONDS = 1.0
MAX_ENTRIES = 10_000

_lock = threading.Lock()
_memos: list[Memo] = []


class Memo:
    """A named TTL memo; ``get(key, compute)`` returns the remembered value or computes it.
    ``watch``: the models whose rows it is computed from; committing one of them (through the
    ORM) in this process empties it. Bulk statements on those tables must call ``clear``."""

    def __init__(self, name: str, *, watch: tuple[type, ...], seconds: float = DEFAULT_SECONDS,
                 maxsize: int = MAX_ENTRIES) -> None:
        self.name = name
        self.watch = watch
        self.maxsize = maxsize
        self._cache: TTLCache = TTLCache(maxsize, seconds)
        self._lock = threading.Lock()
        with _lock:
            _memos.append(self)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            try:
                return self._cache[key]
            except KeyError:
                pass
        value = compute()                 # outside the lock: a slow read must not stall other keys
        with self._lock:
            self._cache[key] = value
        return value

    def items(self) -> list[tuple[Hashable, Any]]:
        """The entries remembered now (a copy: for updating values in place)."""
        with self._lock:
            return [(key, value) for key in list(self._cache.keys())
                    if (value := self._cache.get(key)) is not None]

    def set_seconds(self, seconds: float) -> None:
        with self._lock:
            self._cache = TTLCache(self.maxsize, seconds) if seconds > 0 else TTLCache(1, 1e-9)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def configure(seconds: float) -> None:
    """How long every memo keeps an entry (0 turns them off)."""
    with _lock:
        memos = list(_memos)
    for memo in memos:
        memo.set_seconds(seconds)


@event.listens_for(OrmSession, "after_flush")
def _note_changes(session: OrmSession, _context: Any) -> None:
    changed = {type(obj) for obj in (*session.new, *session.dirty, *session.deleted)}
    if changed:
        session.info.setdefault("zhiku_changed", set()).update(changed)


@event.listens_for(OrmSession, "after_commit")
def _forget_after_commit(session: OrmSession) -> None:
    changed = session.info.pop("zhiku_changed", None)
    if not changed:
        return
    with _lock:
        memos = list(_memos)
    for memo in memos:
        if any(issubclass(kind, memo.watch) for kind in changed):
            memo.clear()


@event.listens_for(OrmSession, "after_rollback")
def _drop_note(session: OrmSession) -> None:
    session.info.pop("zhiku_changed", None)
