"""Training in the background (never inside a request): a TrainingJob row carries the
progress so any worker can report it."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from classifier import dataset
from classifier.registry import ModelRegistry
from classifier.train import fit
from kb.db import make_session
from kb.errors import Conflict, NotFound
from kb.models import Case, TrainingJob
from kb.text import current

log = logging.getLogger("zhiku.training")
MIN_CASES = 10


def start_training(engine: Engine, registry: ModelRegistry, *, actor: str, params: dict,
                   background: bool = True) -> TrainingJob:
    with make_session(engine, write=True) as session:
        running = session.exec(select(TrainingJob).where(TrainingJob.status.in_(["queued", "running"]))).first()
        if running is not None:
            raise Conflict(f"训练任务 {running.id} 仍在进行", field="job")
        labelled = session.exec(select(func.count()).select_from(Case)).one()
        if labelled < MIN_CASES:
            raise Conflict(f"已标注问题只有 {labelled} 条，至少需要 {MIN_CASES} 条才能训练", field="cases")
        job = TrainingJob(status="queued", requested_by=actor, params=params, created_at=datetime.now(UTC),
                          message="排队中")
        session.add(job)
        session.commit()
    if background:
        threading.Thread(target=run_job, args=(engine, registry, job.id), name=f"train-{job.id}", daemon=True).start()
    else:
        run_job(engine, registry, job.id)
    return job


def _update(engine: Engine, job_id: int, **values) -> None:
    with make_session(engine, write=True) as session:
        job = session.get(TrainingJob, job_id)
        for key, value in values.items():
            setattr(job, key, value)
        session.add(job)
        session.commit()


def run_job(engine: Engine, registry: ModelRegistry, job_id: int) -> None:
    try:
        with make_session(engine) as session:
            job = session.get(TrainingJob, job_id)
            params = dict(job.params)
            actor = job.requested_by
            examples = dataset.from_db(session)
        _update(engine, job_id, status="running", progress=0.01, message=f"读取 {len(examples)} 条已标注问题")
        bundle = fit(examples, segmenter=current(), trained_by=actor, params=params.get("model"),
                     progress=lambda frac, msg: _update(engine, job_id, progress=round(frac, 3), message=msg))
        with make_session(engine, write=True) as session:
            row = registry.save(session, bundle)
        _update(engine, job_id, status="done", progress=1.0, message="完成，可在模型列表中比较并发布",
                version=row.version, finished_at=datetime.now(UTC))
    except Exception as exc:
        log.exception("training failed")
        _update(engine, job_id, status="failed", message=f"{type(exc).__name__}: {exc}"[:500],
                finished_at=datetime.now(UTC))


def get_job(session: Session, job_id: int) -> TrainingJob:
    job = session.get(TrainingJob, job_id)
    if job is None:
        raise NotFound(f"训练任务 {job_id} 不存在", field="job_id")
    return job
