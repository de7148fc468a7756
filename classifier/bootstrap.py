"""First start: with no production model, train on the shipped demo cases and promote."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from classifier import dataset
from classifier.registry import ModelRegistry
from classifier.train import Progress, fit
from kb.db import make_session
from kb.models import ModelVersion
from kb.taxonomy import active_labels
from kb.text import Segmenter


def bootstrap(engine: Engine, registry: ModelRegistry, segmenter: Segmenter, demo_cases: Path, *,
              progress: Progress | None = None) -> ModelVersion | None:
    """Train + promote when nothing is in production; returns the promoted version or None."""
    with make_session(engine) as session:
        if registry.production(session) is not None:
            return None
    bundle = fit(dataset.from_demo(demo_cases), segmenter=segmenter, trained_by="bootstrap", progress=progress)
    with make_session(engine, write=True) as session:
        row = registry.save(session, bundle)
        return registry.promote(session, row.version, actor="bootstrap", now=datetime.now(UTC),
                                active_labels=active_labels(session), text_version=segmenter.version,
                                note="首次启动：基于 data/demo 训练")
