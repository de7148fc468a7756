"""The burst rule's question — how many open cases logged recently say nearly the same as
this draft? — answered from a per-process snapshot of the recent open cases' token sets.

Why: asking the database for the last 300 open cases and comparing each on every proposal
was ~3 % of a suggestion. The snapshot is read at most once per ``kb.recent`` period; each
open case is segmented once (per text version); a draft is compared through an inverted
index of the snapshot, so only cases sharing a token with it are touched.

A case committed in this process updates the snapshot in place (added while open, dropped
once it is not), so the next proposal here counts it without reading the database again:
re-reading 300 cases after every save was ~5 % of a web worker at 20 saves/s. Cases saved
by other processes are seen when the snapshot is next read (``ZHIKU_CACHE_SECONDS``)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from kb import recent
from kb.cases.workflow import OPEN_STATES
from kb.models import Case

SCAN_LIMIT = 300          # newest open cases of the window considered (as before)

# not ``watch``ed: a commit here updates the snapshots (``_apply_committed``) instead of emptying them
_snapshots = recent.Memo("recent open cases", watch=(), maxsize=64)
_SEEN = "zhiku_burst_cases"


class Saved(NamedTuple):
    """What a flush wrote of a case: all a snapshot needs to add or drop it."""

    id: int
    open: bool
    received: datetime        # aware: a UTCDateTime column refuses a naive one at the flush
    text: str


class OpenSnapshot:
    """The newest open cases received since ``since`` (up to ``SCAN_LIMIT``): their token sets
    and an inverted index over them. Read by request threads while a commit updates it: one lock."""

    def __init__(self, since: datetime, text_version: str) -> None:
        self.since = since                    # cases received from here on are all in it (up to SCAN_LIMIT)
        self.text_version = text_version
        self.cases: dict[int, tuple[datetime, frozenset[str]]] = {}     # id → (received, tokens)
        self.postings: dict[str, set[int]] = {}                          # token → case ids
        self._lock = threading.Lock()

    @classmethod
    def read(cls, session: Session, since: datetime, text_version: str) -> OpenSnapshot:
        rows = session.exec(select(Case.id, Case.subject, Case.description, Case.received_at)
                            .where(Case.status.in_(list(OPEN_STATES)), Case.received_at >= since)
                            .order_by(Case.received_at.desc()).limit(SCAN_LIMIT)).all()
        snapshot = cls(since, text_version)
        for case_id, subject, description, at in rows:
            snapshot._add(case_id, at, _token_set(f"{subject}\n{description}", text_version))
        return snapshot

    def __len__(self) -> int:
        return len(self.cases)

    def count(self, tokens: set[str], *, since: datetime, similarity: float) -> int:
        with self._lock:
            overlap = Counter(i for token in tokens for i in self.postings.get(token, ()))
            return sum(1 for i, shared in overlap.items()
                       if (case := self.cases[i])[0] >= since
                       and shared / (len(tokens) + len(case[1]) - shared) >= similarity)

    def apply(self, saved: list[Saved]) -> None:
        """Cases committed in this process: an open one received in the window is (re)added
        with its current text, any other is dropped; the oldest beyond ``SCAN_LIMIT`` go."""
        with self._lock:
            for case in saved:
                self._drop(case.id)
                if case.open and case.received >= self.since:
                    self._add(case.id, case.received, _token_set(case.text, self.text_version))
            while len(self.cases) > SCAN_LIMIT:
                self._drop(min(self.cases, key=lambda i: self.cases[i][0]))

    def _add(self, case_id: int, received: datetime, tokens: frozenset[str]) -> None:
        self.cases[case_id] = (received, tokens)
        for token in tokens:
            self.postings.setdefault(token, set()).add(case_id)

    def _drop(self, case_id: int) -> None:
        case = self.cases.pop(case_id, None)
        if case is None:
            return
        for token in case[1]:
            ids = self.postings.get(token)
            if ids is not None:
                ids.discard(case_id)
                if not ids:
                    del self.postings[token]


def count_similar_open(session: Session, tokens: set[str], *, since: datetime, similarity: float,
                       window_key: object = None) -> int:
    """Open cases received since ``since`` whose subject+description tokens overlap the draft's
    by at least ``similarity`` (Jaccard): a burst of the same problem is a P0 candidate.
    ``window_key`` names the rule's window, so calls with a moving ``since`` share a snapshot."""
    if not tokens:
        return 0
    from kb.text import version as text_version

    version = text_version()
    key = (str(session.get_bind().url), version, window_key)
    snapshot = _snapshots.get(key, lambda: OpenSnapshot.read(session, since, version))
    if since < snapshot.since:            # a clock moved back (tests): this window is not covered
        snapshot = OpenSnapshot.read(session, since, version)
    return snapshot.count(tokens, since=since, similarity=similarity)


@lru_cache(maxsize=4096)
def _token_set(text: str, text_version: str) -> frozenset[str]:
    """Open cases are compared with every new draft; segment each one once per text version."""
    from kb.text import prepare

    return frozenset(prepare(text))


@event.listens_for(OrmSession, "after_flush")
def _note_cases(session: OrmSession, _context: Any) -> None:
    """Remember what each flush wrote of a case (its attributes are expired after the commit)."""
    seen = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Case) and obj.id is not None:
            if seen is None:
                seen = session.info.setdefault(_SEEN, {})
            gone = obj in session.deleted
            seen[obj.id] = Saved(obj.id, not gone and obj.status in OPEN_STATES, obj.received_at,
                                 f"{obj.subject}\n{obj.description}")


@event.listens_for(OrmSession, "after_commit")
def _apply_committed(session: OrmSession) -> None:
    saved = session.info.pop(_SEEN, None)
    if not saved:
        return
    url, cases = str(session.get_bind().url), list(saved.values())
    for key, snapshot in _snapshots.items():
        if key[0] == url:
            snapshot.apply(cases)


@event.listens_for(OrmSession, "after_rollback")
def _forget_cases(session: OrmSession) -> None:
    session.info.pop(_SEEN, None)
