"""Training in the background, never inside a request and never inside a web worker: a
training job is a row of the job queue (``kb.jobs``); the node's job worker (``api.jobs``)
runs it in a child process of its own (scikit-learn's loky workers are that child's
children) and renews its lease while the child lives.

Why a child process: fitting with ``n_jobs=2`` inside the serving process competed with
agents' requests, and its loky workers outlived the job. Now the child shuts its loky
workers down when the job ends, the worker ends the child (and so its workers) when it
stops, and a job counts as running only while its lease is renewed — a worker killed
outright leaves a job whose lease runs out, and the next ``POST /models/train`` marks it
failed instead of answering 409 for good."""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from api import ranking
from classifier import dataset
from classifier.registry import ModelRegistry
from classifier.train import fit
from indexer import WhooshIndex
from kb import jobs
from kb.db import make_session
from kb.errors import Conflict, NotFound
from kb.models import Case, Job, JobKind
from kb.text import current

log = logging.getLogger("zhiku.training")
MIN_CASES = 10


def start_training(engine: Engine, registry: ModelRegistry, *, actor: str, params: dict,
                   background: bool = True, index: WhooshIndex | None = None) -> Job:
    """Queue a training job for the job worker, or (``background=False``: notebooks and the
    tests of the training itself) run it here and now, the ranker trained over ``index``."""
    with make_session(engine, write=True) as session:
        jobs.expire_abandoned(session)
        running = session.exec(select(Job).where(Job.kind == JobKind.train, Job.status.in_(jobs.ACTIVE))).first()
        if running is not None:
            raise Conflict(f"训练任务 {running.id} 仍在进行", field="job")
        labelled = session.exec(select(func.count()).select_from(Case)).one()
        if labelled < MIN_CASES:
            raise Conflict(f"已标注问题只有 {labelled} 条，至少需要 {MIN_CASES} 条才能训练", field="cases")
        # inline, no worker renews the lease: it covers any fit a notebook runs
        runner = None if background else jobs.runner_name("inline")
        job = jobs.enqueue(session, kind=JobKind.train, actor=actor, params=params, runner=runner,
                           lease=timedelta(hours=24))
    if runner is not None:
        run_job(engine, registry, job.id, runner, index)
        with make_session(engine) as session:
            job = session.get(Job, job.id)
    return job


def run_job(engine: Engine, registry: ModelRegistry, job_id: int, runner: str, index: WhooshIndex | None) -> None:
    try:
        with make_session(engine) as session:
            job = session.get(Job, job_id)
            params = dict(job.params)
            actor = job.requested_by
            examples = dataset.from_db(session)
        jobs.report(engine, job_id, runner, progress=0.01, message=f"读取 {len(examples)} 条已标注问题", log=True)
        bundle = fit(examples, segmenter=current(), trained_by=actor, params=params.get("model"),
                     progress=lambda frac, msg: jobs.report(engine, job_id, runner, progress=frac * 0.9, message=msg,
                                                            log=True))
        jobs.report(engine, job_id, runner, progress=0.9, message="用已采用的方案训练排序模型", log=True)
        with make_session(engine) as session:
            bundle.ranker, bundle.ranker_metrics = ranking.train(session, index, bundle.semantic, current())
        jobs.report(engine, job_id, runner, progress=0.97, log=True, message=(
            f"排序模型已训练：{bundle.ranker_metrics['links']} 条可用采用记录" if bundle.ranker
            else f"排序模型未启用：{bundle.ranker_metrics.get('reason', '')}"))
        with make_session(engine, write=True) as session:
            row = registry.save(session, bundle)
        jobs.finish(engine, job_id, runner, "done", "完成，可在模型列表中比较并发布", version=row.version)
    except jobs.LostLease:
        log.warning("training job %s was taken from this runner", job_id)
    except Exception as exc:
        log.exception("training failed")
        jobs.finish(engine, job_id, runner, "failed", f"{type(exc).__name__}: {exc}"[:500])


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)     # unwinds through the finally below


def child_main(settings, job_id: int, runner: str, nice: int = 0) -> None:
    """The training process: its own engine and segmenter; on SIGTERM or at the end it shuts
    its loky workers down, so none outlive the job. ``nice``: agents' requests first (its loky
    workers inherit it)."""
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    from api.logging import configure_logging
    from kb.db import make_engine
    from kb.dictionary import install_segmenter_from_db

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    configure_logging(json_lines=settings.log_json)
    engine = make_engine(settings.database_url, settings=settings)
    try:
        jobs.report(engine, job_id, runner, message=f"训练进程 {jobs.runner_name('train')} 已启动", log=True)
        install_segmenter_from_db(engine, settings.jieba_cache_dir)
        index = WhooshIndex(settings.index_dir, settings.jieba_cache_dir)    # the ranker's candidates
        run_job(engine, ModelRegistry(settings.model_dir), job_id, runner, index)
        index.close()
    finally:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True, kill_workers=True)
        engine.dispose()


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.kind != JobKind.train:
        raise NotFound(f"训练任务 {job_id} 不存在", field="job_id")
    return job
