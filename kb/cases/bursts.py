"""The burst rule's question — how many open cases logged recently say nearly the same as
this draft? — answered from a per-process snapshot of the recent open cases' token sets.

Why: asking the database for the last 300 open cases and comparing each on every proposal
was ~3 % of a suggestion. The snapshot is read at most once per ``kb.recent`` period (a
commit of a case in this process refreshes it at once); each open case is segmented once
(per text version); a draft is compared through an inverted index of the snapshot, so only
cases sharing a token with it are touched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlmodel import Session, select

from kb import recent
from kb.cases.workflow import OPEN_STATES
from kb.models import Case

SCAN_LIMIT = 300          # newest open cases of the window considered (as before)

_snapshots = recent.Memo("recent open cases", watch=(Case,), maxsize=64)


@dataclass(frozen=True)
class OpenSnapshot:
    since: datetime                       # cases received from here on are all in it (up to SCAN_LIMIT)
    received: list[datetime]
    sizes: list[int]
    postings: dict[str, list[int]]        # token → positions in ``received``

    @classmethod
    def read(cls, session: Session, since: datetime, text_version: str) -> OpenSnapshot:
        rows = session.exec(select(Case.subject, Case.description, Case.received_at)
                            .where(Case.status.in_(list(OPEN_STATES)), Case.received_at >= since)
                            .order_by(Case.received_at.desc()).limit(SCAN_LIMIT)).all()
        received, sizes, postings = [], [], {}
        for i, (subject, description, at) in enumerate(rows):
            tokens = _token_set(f"{subject}\n{description}", text_version)
            received.append(at)
            sizes.append(len(tokens))
            for token in tokens:
                postings.setdefault(token, []).append(i)
        return cls(since, received, sizes, postings)

    def count(self, tokens: set[str], *, since: datetime, similarity: float) -> int:
        overlap = Counter(i for token in tokens for i in self.postings.get(token, ()))
        return sum(1 for i, shared in overlap.items()
                   if self.received[i] >= since and shared / (len(tokens) + self.sizes[i] - shared) >= similarity)


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
