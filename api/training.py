"""Training in the background, never inside a request and never inside a web worker: each job
runs in a child process of its own (scikit-learn's loky workers are that child's children),
and a TrainingJob row carries the progress so any worker can report it.

Why a child process: fitting with ``n_jobs=2`` inside the serving process competed with
agents' requests, and its loky workers outlived the job. Now the child shuts its loky
workers down when the job ends, the server ends the child (and so its workers) when it stops,
and a job counts as running only while its lease is renewed — a server killed outright
leaves a job whose lease runs out, and the next ``POST /models/train`` marks it failed
instead of answering 409 for good."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta

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
LEASE = timedelta(seconds=60)     # renewed every LEASE / 4 by the server that started the child
STOP_GRACE_SECONDS = 10           # SIGTERM → this long to finish cleanly → SIGKILL
ACTIVE = ("queued", "running")


def _now() -> datetime:
    return datetime.now(UTC)


def start_training(engine: Engine, registry: ModelRegistry, *, actor: str, params: dict,
                   runner: TrainingRunner | None = None) -> TrainingJob:
    """Queue a job and start it: in a child process through ``runner``, or here and now
    (``runner=None``: notebooks and the tests of the training itself)."""
    with make_session(engine, write=True) as session:
        _expire_abandoned(session)
        running = session.exec(select(TrainingJob).where(TrainingJob.status.in_(ACTIVE))).first()
        if running is not None:
            raise Conflict(f"训练任务 {running.id} 仍在进行", field="job")
        labelled = session.exec(select(func.count()).select_from(Case)).one()
        if labelled < MIN_CASES:
            raise Conflict(f"已标注问题只有 {labelled} 条，至少需要 {MIN_CASES} 条才能训练", field="cases")
        job = TrainingJob(status="queued", requested_by=actor, params=params, created_at=_now(),
                          message="排队中", lease_until=_now() + LEASE)
        session.add(job)
        session.commit()
        session.refresh(job)
    if runner is not None:
        runner.start(job.id)
    else:
        run_job(engine, registry, job.id)
    return job


def _expire_abandoned(session: Session) -> None:
    """Jobs whose runner stopped renewing the lease (the server was killed) are failed, so
    they neither block new training nor show as running forever."""
    stale = session.exec(select(TrainingJob).where(TrainingJob.status.in_(ACTIVE),
                                                   TrainingJob.lease_until < _now())).all()
    for job in stale:
        job.status, job.finished_at = "failed", _now()
        job.message = f"中断：运行训练的进程（{job.runner or '未知'}）已停止，请重新训练"
        session.add(job)
    session.commit()


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
        _update(engine, job_id, status="running", progress=0.01, message=f"读取 {len(examples)} 条已标注问题",
                runner=f"{socket.gethostname()[:40]}:{os.getpid()}")
        bundle = fit(examples, segmenter=current(), trained_by=actor, params=params.get("model"),
                     progress=lambda frac, msg: _update(engine, job_id, progress=round(frac, 3), message=msg))
        with make_session(engine, write=True) as session:
            row = registry.save(session, bundle)
        _update(engine, job_id, status="done", progress=1.0, message="完成，可在模型列表中比较并发布",
                version=row.version, finished_at=_now())
    except Exception as exc:
        log.exception("training failed")
        _update(engine, job_id, status="failed", message=f"{type(exc).__name__}: {exc}"[:500], finished_at=_now())


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)     # unwinds through the finally below


def _child_main(settings, job_id: int) -> None:
    """The training process: its own engine and segmenter; on SIGTERM or at the end it shuts
    its loky workers down, so none outlive the job."""
    from api.logging import configure_logging
    from kb.db import make_engine
    from kb.dictionary import install_segmenter_from_db

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    configure_logging(json_lines=settings.log_json)
    engine = make_engine(settings.database_url, settings=settings)
    try:
        install_segmenter_from_db(engine, settings.jieba_cache_dir)
        run_job(engine, ModelRegistry(settings.model_dir), job_id)
    finally:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True, kill_workers=True)
        engine.dispose()


class TrainingRunner:
    """Starts jobs as child processes of this server, renews their leases while they live,
    and ends them when the server stops (the job is then marked failed, not left running)."""

    def __init__(self, engine: Engine, settings) -> None:
        self.engine = engine
        self.settings = settings
        self._children: dict[int, multiprocessing.Process] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, job_id: int) -> None:
        child = multiprocessing.get_context("spawn").Process(
            target=_child_main, args=(self.settings, job_id), name=f"zhiku-train-{job_id}", daemon=False)
        child.start()
        with self._lock:
            self._children[job_id] = child
        threading.Thread(target=self._watch, args=(job_id, child), name=f"train-watch-{job_id}", daemon=True).start()

    def _watch(self, job_id: int, child: multiprocessing.Process) -> None:
        while child.is_alive():
            try:
                _update(self.engine, job_id, lease_until=_now() + LEASE)
            except Exception:   # the database may be down for a moment; the lease is long
                log.warning("could not renew the training lease", extra={"job": job_id})
            child.join(LEASE.total_seconds() / 4)
        with self._lock:
            self._children.pop(job_id, None)
        self._finish_if_still_active(job_id, child.exitcode)

    def _finish_if_still_active(self, job_id: int, exitcode: int | None) -> None:
        message = ("中断：服务停止，训练已结束，请重新训练" if self._stopping.is_set()
                   else f"中断：训练进程意外退出（退出码 {exitcode}）")
        try:
            with make_session(self.engine, write=True) as session:
                job = session.get(TrainingJob, job_id)
                if job is not None and job.status in ACTIVE:
                    job.status, job.message, job.finished_at = "failed", message, _now()
                    session.add(job)
                    session.commit()
        except Exception:
            log.exception("could not record the end of training job %s", job_id)

    def children(self) -> list[multiprocessing.Process]:
        with self._lock:
            return list(self._children.values())

    def stop(self) -> None:
        """End every running job's process (SIGTERM, then SIGKILL after a grace period)."""
        self._stopping.set()
        with self._lock:
            running = dict(self._children)
        for child in running.values():
            child.terminate()
        for job_id, child in running.items():
            child.join(STOP_GRACE_SECONDS)
            if child.is_alive():
                child.kill()
                child.join(5)
            self._finish_if_still_active(job_id, child.exitcode)


def get_job(session: Session, job_id: int) -> TrainingJob:
    job = session.get(TrainingJob, job_id)
    if job is None:
        raise NotFound(f"训练任务 {job_id} 不存在", field="job_id")
    return job
