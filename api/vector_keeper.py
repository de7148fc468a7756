"""Keeps the node's vector store (``classifier.vector_store``) in step with the resolved cases
and the production model's semantic representation.

Runs beside the index writer — in the node's background process, or embedded with it — and,
like it, in one process per node (``<var>/vectors.lock``). Every ``interval`` seconds: follow
the production model; list the indexable cases with their update stamps; when that list
differs from the current build, write a new one, copying the vectors of unchanged cases and
embedding only the new or edited ones. Between two builds a suggestion computes the few
vectors the store misses itself, so a lagging store costs time, never correctness.

A build is written whole (at 1M cases ~0.7 GB), so a few changes wait: the store is rewritten
once ``MIN_CHANGED_SHARE`` of it (at least ``MIN_CHANGED`` cases) is new or edited, or once the
first change not yet in it has waited ``max_lag`` seconds. A desk that resolves a case a minute
rewrote the store every minute before — at 1M cases ~1 TB of writes a day."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from classifier.dataset import case_text
from classifier.predictor import Predictor
from classifier.vector_store import read_build, stamp, write_build
from indexer.documents import INDEXABLE
from kb.db import make_session
from kb.node_loop import NodeLoop
from kb.models import Case

log = logging.getLogger("zhiku.vectors")
MIN_CHANGED = 200            # new or edited cases that are worth rewriting the store at once…
MIN_CHANGED_SHARE = 0.01     # …or this share of the store, whichever is more


class VectorKeeper(NodeLoop):
    thread_name = "zhiku-vectors"
    retry_seconds = 5.0
    failure = "vector store update failed"     # suggestions compute what the store lacks
    log = log

    def __init__(self, engine: Engine, predictor: Predictor, root: Path, lock_path: Path, *,
                 interval: float = 60.0, max_lag: float = 900.0) -> None:
        super().__init__(lock_path, interval)
        self.engine = engine
        self.predictor = predictor
        self.root = root
        self.max_lag = max_lag
        self._waiting_since: float | None = None     # when a change not yet in the store was first seen
        self._step_lock = threading.Lock()

    def step(self) -> int:
        """Bring the store of the production representation up to date; returns the number of
        vectors embedded (0 when nothing changed or there is no representation)."""
        with self._step_lock:
            return self._step()

    def _step(self) -> int:
        with make_session(self.engine) as session:
            self.predictor.refresh(session)
        semantic = self.predictor.semantic("")
        if semantic is None:
            return 0
        model, segmenter, _ = semantic
        previous = read_build(self.root, model.version)
        indexable = Case.status.in_(list(INDEXABLE))
        with make_session(self.engine) as session:
            # a cheap look first: the same number of indexable cases and the same latest update
            # means nothing was resolved, edited or reopened since (a miss would only cost a
            # suggestion an embedding: rows are checked against updated_at when used)
            count, latest = session.connection().execute(
                select(func.count(), func.max(Case.updated_at)).where(indexable)).one()
            if previous is not None and count == len(previous.ids) and (
                    count == 0 or stamp(latest) == int(previous.stamps.max())):
                return 0
            if previous is not None and len(previous.ids) and not self._due(session, previous):
                return 0
            rows = session.connection().execute(
                select(Case.id, Case.updated_at).where(indexable).order_by(Case.id)).all()
        ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
        stamps = np.fromiter((stamp(r.updated_at) for r in rows), dtype=np.int64, count=len(rows))
        changed = len(ids) if previous is None else int((~previous.lookup(ids, stamps)[1]).sum())

        def texts_of(chunk: list[int]) -> list[str]:
            with make_session(self.engine) as s:
                found = {r.id: case_text(r.subject, r.description) for r in s.connection().execute(
                    select(Case.id, Case.subject, Case.description).where(Case.id.in_(chunk)))}
            return [found.get(i, "") for i in chunk]

        build = write_build(self.root, model, ids, stamps, texts_of, segmenter, previous)
        self._waiting_since = None
        log.info("vector store written", extra={"representation": model.version, "cases": len(ids),
                                                 "embedded": changed, "build": build.name if build else None})
        return changed

    def _due(self, session, previous) -> bool:
        """Whether enough changed, or waited long enough, to rewrite the store. Counted: cases
        updated after the newest one in the build (or in the same instant, beyond those in it).
        A case reopened since, or one whose update time is older (another node's clock), waits
        for the lag: a stale row is never used (its stamp no longer matches), and a missing one
        is computed by the suggestion."""
        newest = int(previous.stamps.max())
        since = session.connection().execute(select(func.count()).where(
            Case.status.in_(list(INDEXABLE)),
            Case.updated_at >= datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=newest))).scalar_one()
        fresh = since - int((previous.stamps == newest).sum())      # updated in the same instant: not fresh
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        enough = max(MIN_CHANGED, MIN_CHANGED_SHARE * len(previous.ids))
        return fresh >= enough or now - self._waiting_since >= self.max_lag


def vector_keeper(engine: Engine, settings, predictor: Predictor | None = None) -> VectorKeeper:
    """The node's keeper; with its own predictor unless given the web worker's (embedded)."""
    from classifier.registry import ModelRegistry
    from classifier.rules import TriageRules

    if predictor is None:
        predictor = Predictor(ModelRegistry(settings.model_dir), TriageRules.from_toml(settings.triage_rules_file),
                              settings.jieba_cache_dir)
    return VectorKeeper(engine, predictor, settings.vector_dir, settings.var_dir / "vectors.lock",
                        interval=settings.vector_refresh_seconds, max_lag=settings.vector_max_lag_seconds)
