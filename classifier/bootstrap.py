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
              progress: Progress | None = None, floors: dict[str, float] | None = None) -> ModelVersion | None:
    """Train + promote when nothing is in production; returns the promoted version or None.
    The demo model passes the same floors as any other (``floors``), so a broken demo set
    cannot quietly become production."""
    with make_session(engine) as session:
        if registry.production(session) is not None:
            return None
    bundle = fit(dataset.from_demo(demo_cases), segmenter=segmenter, trained_by="bootstrap", progress=progress,
                 source="demo")
    with make_session(engine, write=True) as session:
        row = registry.save(session, bundle)
        return registry.promote(session, row.version, actor="bootstrap", now=datetime.now(UTC),
                                active_labels=active_labels(session), text_version=segmenter.version,
                                floors=floors, note="首次启动：基于 data/demo 示例数据训练")


def describe_first_model(row: ModelVersion) -> str:
    """What first start prints: figures measured on unseen demo cases, labelled as demo figures."""
    m = row.metrics
    return (f"首个模型 {row.version}：用示例数据（data/demo，{row.data_rows} 条）训练并发布。"
            f"在 {m.get('test_rows', '?')} 条较新且未参与训练的示例案例上（近似重复与同一客户的案例不跨训练/验证两边）："
            f"类型 macro-F1 {m.get('type_macro_f1', float('nan')):.3f}，优先级 macro-F1 {m.get('priority_macro_f1', float('nan')):.3f}。"
            f"示例数据的指标只说明流程可用；有了本团队的案例后请在 /models 重新训练。")
