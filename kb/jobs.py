"""The job queue: rows in the ``job`` table, claimed under a lease.

Why a table of our own and not a job library: procrastinate is PostgreSQL-only, dramatiq
needs Redis or RabbitMQ, huey's SQL storage is peewee (a second ORM and connection pool next
to ours) — none serves the embedded SQLite default and PostgreSQL through the engine the
service already has, and each would add a broker to operate. What we need is small: claim
one row at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), a
lease renewed by the worker, a checkpoint written in the same transaction as the work it
describes, and progress any node can read.

Lease rules: a worker renews ``lease_until`` every quarter of the lease. Once it lapses, the job is
another worker's to take (imports resume at their checkpoint, rebuilds restart), up to
``MAX_ATTEMPTS`` runs; training is marked failed instead, as before (an analyst starts it
again). Every write a runner makes checks that it still holds the job (``runner`` matches),
so a worker that stalled past its lease cannot overwrite its successor's work."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from kb import uploads
from kb.db import make_session
from kb.errors import Conflict, DomainError, FieldError, NotFound, TooLarge
from kb.models import Job, JobInput, JobKind, Role, User

LEASE = timedelta(seconds=60)       # the default; ZHIKU_JOB_LEASE_SECONDS; renewed every quarter of it
MAX_ATTEMPTS = 3
ACTIVE = ("queued", "running")
LOG_LINES = 100
# who sees every job; everyone else sees the jobs they started
SEES_ALL = frozenset({Role.admin, Role.analyst})


class LostLease(Exception):
    """The job is no longer this runner's (its lease lapsed and another worker took it, or it
    was cancelled): stop without writing anything more."""


def now() -> datetime:
    return datetime.now(UTC)


def runner_name(role: str = "worker") -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{role}"[:64]


def enqueue(session: Session, *, kind: str, actor: str, params: dict[str, Any] | None = None,
            node: str | None = None, upload: bytes | None = None, filename: str = "",
            message: str = "排队中", runner: str | None = None, lease: timedelta = LEASE) -> Job:
    """Add a queued job (and its uploaded file) and commit; with ``runner``, one already
    running there (a notebook's inline training), so no worker claims it meanwhile. On SQLite
    the file waits beside the database, not in it (``kb.uploads``)."""
    upload_dir = uploads.directory(session.get_bind()) if upload is not None else None
    # written and flushed to disk before the first insert takes SQLite's write lock
    stored_as = uploads.put(upload_dir, upload) if upload_dir is not None else None
    try:
        job = Job(kind=kind, status="queued", requested_by=actor, params=params or {}, created_at=now(),
                  message=message, node=node, log=[_line(message)])
        if runner is not None:
            job.status, job.runner, job.started_at = "running", runner, now()
            job.lease_until, job.attempts = now() + lease, 1
        session.add(job)
        session.flush()
        if upload is not None:
            session.add(JobInput(job_id=job.id, filename=filename[:255], content=b"" if stored_as else upload,
                                 stored_as=stored_as))
        session.commit()
    except BaseException:
        if stored_as is not None:
            uploads.remove(upload_dir, stored_as)
        raise
    session.refresh(job)
    return job


def _line(message: str) -> dict[str, str]:
    return {"at": now().isoformat(timespec="seconds"), "message": message[:500]}


def expire_abandoned(session: Session) -> int:
    """Training whose runner stopped renewing the lease is failed (neither blocking new
    training nor showing as running forever); other kinds past their last attempt too."""
    stale = session.exec(select(Job).where(Job.status == "running", Job.lease_until < now())).all()
    failed = 0
    for job in stale:
        if job.kind == JobKind.train or job.attempts >= MAX_ATTEMPTS:
            what = "训练" if job.kind == JobKind.train else "任务"
            _finish(job, "failed", f"中断：运行{what}的进程（{job.runner or '未知'}）已停止，请重新开始")
            session.add(job)
            failed += 1
    session.commit()
    return failed


def claim(engine: Engine, *, runner: str, node: str | None, kinds: tuple[str, ...] = JobKind.ALL,
          lease: timedelta = LEASE) -> Job | None:
    """Take the oldest job this worker may run: queued, or running with a lapsed lease. Looks
    first in a read transaction: an idle worker polls without ever taking SQLite's write lock."""
    condition = (Job.kind.in_(kinds),
                 or_(Job.status == "queued", (Job.status == "running") & (Job.lease_until < now())),
                 or_(Job.node.is_(None), Job.node == node))
    with make_session(engine) as session:
        if session.exec(select(Job.id).where(*condition).limit(1)).first() is None:
            return None
    with make_session(engine, write=True) as session:
        expire_abandoned(session)
        query = select(Job).where(*condition).order_by(Job.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = session.exec(query).first()
        if job is None:
            session.rollback()
            return None
        taken_over = job.status == "running"
        job.status, job.runner, job.attempts = "running", runner, job.attempts + 1
        job.lease_until = now() + lease
        job.started_at = job.started_at or now()
        job.log = [*job.log, _line(f"{'接手' if taken_over else '开始'}：{runner}（第 {job.attempts} 次）")][-LOG_LINES:]
        session.add(job)
        session.commit()
        session.refresh(job)
        return job


def held(session: Session, job_id: int, runner: str) -> Job:
    """The job row, locked for this transaction, if this runner still holds it."""
    query = select(Job).where(Job.id == job_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    job = session.exec(query).first()
    if job is None or job.status != "running" or job.runner != runner:
        raise LostLease(job_id)
    return job


def renew(engine: Engine, job_id: int, runner: str, lease: timedelta = LEASE) -> None:
    with make_session(engine, write=True) as session:
        job = held(session, job_id, runner)
        job.lease_until = now() + lease
        session.add(job)
        session.commit()


def report(engine: Engine, job_id: int, runner: str, *, progress: float | None = None, message: str | None = None,
           result: dict[str, Any] | None = None, log: bool = False) -> None:
    """Progress, message (appended to the log when ``log``) and a result/checkpoint update."""
    with make_session(engine, write=True) as session:
        job = held(session, job_id, runner)
        update(job, progress=progress, message=message, result=result, log=log)
        session.add(job)
        session.commit()


def update(job: Job, *, progress: float | None = None, message: str | None = None,
           result: dict[str, Any] | None = None, log: bool = False) -> None:
    if progress is not None:
        job.progress = round(progress, 3)
    if message is not None:
        job.message = message[:500]
        if log:
            job.log = [*job.log, _line(message)][-LOG_LINES:]
    if result is not None:
        job.result = {**job.result, **result}


def finish(engine: Engine, job_id: int, runner: str | None, status: str, message: str, *,
           result: dict[str, Any] | None = None, version: str | None = None) -> None:
    """Done or failed. ``runner=None``: whoever holds it (a server ending its own child)."""
    with make_session(engine, write=True) as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ACTIVE or (runner is not None and job.runner != runner):
            return
        _finish(job, status, message, result=result, version=version)
        session.add(job)
        session.commit()


def _finish(job: Job, status: str, message: str, *, result: dict[str, Any] | None = None,
            version: str | None = None) -> None:
    job.status, job.finished_at, job.lease_until = status, now(), None
    job.progress = 1.0 if status == "done" else job.progress
    if version is not None:
        job.version = version
    if result is not None:
        job.result = result       # the outcome replaces the progress kept while running
    update(job, message=message, log=True)


def release(engine: Engine, job_id: int, runner: str, message: str) -> None:
    """A clean stop: the job goes back to the queue for the next worker, checkpoint kept."""
    with make_session(engine, write=True) as session:
        try:
            job = held(session, job_id, runner)
        except LostLease:
            return
        job.status, job.runner, job.lease_until = "queued", None, None
        update(job, message=message, log=True)
        session.add(job)
        session.commit()


def fail_error(exc: DomainError) -> dict[str, Any]:
    """A domain error as stored in a failed job, so the request that waits on it can answer
    with the same problem (413/422/409) the synchronous code gave."""
    return {"error": {"kind": type(exc).__name__, "title": exc.title, "detail": exc.message, "field": exc.field}}


_ERRORS = {cls.__name__: cls for cls in (FieldError, TooLarge, Conflict, NotFound)}


def raise_stored_error(job: Job) -> None:
    error = job.result.get("error")
    if not error:
        raise Conflict(job.message or f"任务 {job.id} 失败", field="job")
    cls = _ERRORS.get(error.get("kind"), Conflict)
    exc = (cls(error.get("field") or "file", error["detail"]) if issubclass(cls, FieldError)
           else cls(error["detail"], field=error.get("field")))
    exc.extra["job_id"] = job.id      # the failed job keeps the details (GET /api/v1/jobs/{id})
    raise exc


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def read_input(session: Session, job_id: int) -> Upload:
    """The job's uploaded file, from its row or from the file the row names."""
    row = session.get(JobInput, job_id)
    upload_dir = uploads.directory(session.get_bind())
    if row is None:
        content = None
    elif row.stored_as is None:
        content = row.content
    else:                   # a file beside the database; gone, or not reachable from here
        content = uploads.get(upload_dir, row.stored_as) if upload_dir is not None else None
    if content is None:
        raise NotFound(f"任务 {job_id} 的文件已不存在", field="job_id")
    return Upload(row.filename, content)


def drop_input(session: Session, job_id: int) -> None:
    """Forget the job's file (commits): the row, then the file it names, if any."""
    row = session.get(JobInput, job_id)
    if row is None:
        return
    stored_as, upload_dir = row.stored_as, uploads.directory(session.get_bind())
    session.delete(row)
    session.commit()
    if stored_as is not None and upload_dir is not None:
        uploads.remove(upload_dir, stored_as)


# -- reading, with the one rule of who sees which job ------------------------------------------

def visible(user: User):
    """The condition for the jobs ``user`` may see."""
    return True if user.role in SEES_ALL else Job.requested_by == user.username


def get_visible(session: Session, job_id: int, user: User) -> Job:
    job = session.exec(select(Job).where(Job.id == job_id, visible(user))).first()
    if job is None:
        raise NotFound(f"任务 {job_id} 不存在", field="job_id")
    return job


def list_visible(session: Session, user: User, *, kind: str | None = None, status: str | None = None,
                 limit: int = 50) -> list[Job]:
    query = select(Job).where(visible(user))
    if kind:
        query = query.where(Job.kind == kind)
    if status:
        query = query.where(Job.status == status)
    return list(session.exec(query.order_by(Job.id.desc()).limit(limit)))


def cancel(session: Session, job_id: int, user: User) -> Job:
    """Cancel a job that has not started; a running one finishes (or fails) on its own."""
    job = get_visible(session, job_id, user)
    if job.status != "queued":
        raise Conflict(f"任务 {job_id} 状态为 {job.status}，只能取消排队中的任务", field="job_id")
    _finish(job, "failed", f"已由 {user.username} 取消")
    session.add(job)
    session.commit()
    return job


def queue_state(session: Session) -> dict[str, Any]:
    """For /health: how many wait, and for how long the oldest has (no worker running shows here)."""
    queued, oldest = session.exec(select(func.count(), func.min(Job.created_at)).where(Job.status == "queued")).one()
    running = session.exec(select(func.count()).where(Job.status == "running", Job.lease_until >= now())).one()
    waited = (now() - oldest).total_seconds() if oldest else 0.0
    return {"queued": queued, "running": running, "oldest_queued_seconds": round(waited, 1)}
