"""A spreadsheet import run as a job: checked without the write lock, stored in short
transactions, resumable.

Why short transactions: one transaction for a 20,000-row file held SQLite's write lock for
~10 s, and every agent's save waited behind it. Now each chunk of ``CHUNK`` rows is checked
again for duplicates and stored in a transaction of its own (a fraction of a second), and
the import then pauses as long as it held the lock, so an agent's save waits for one chunk
at most. A chunk's cases are made (masking, redaction, routing, SLA) in a read session before
its write transaction begins, and its duplicate re-check reads through the contact-time index,
so the transaction only inserts: a full-table re-check inside it held the lock 0.2 s per chunk
at 120k cases. The price is that a failed import can leave
the rows stored before the failure; the report then lists them, and importing the file
again stores only the rest (stored rows are refused as duplicates).

Resuming: each stored case's history note names the job (``导入任务 <id> … 第 <row> 行``),
written in the same transaction as the case. A worker that takes over an interrupted job
reads those notes back — the database, not a checkpoint that could disagree with it, says
which rows are done — and stores the rest."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import select

from kb import jobs
from kb.cases import service, sheet_import
from kb.db import make_session
from kb.errors import DomainError
from kb.models import Case, CaseHistory, Job

CHUNK = 50
# after each chunk the import waits as long as the chunk held the write lock: the web workers'
# writers wait for SQLite's lock in its busy handler (sleeping 1, 2, 5, 10… ms between tries)
# and would otherwise find the import holding it again. Measured with bench/write_load.py at
# 10 creations + 20 suggestions/s, the import in the background process: creation p99 658 ms
# before, 217 ms during the import (noise: the box was loaded; no degradation). The pause halves
# a quiet import's speed (bench/import_speed.py); not measured apart from the process move.
YIELD_RATIO = 1.0
# before its first CPU work (decoding and parsing the whole sheet: ~0.25 s of a core for 24 MB)
# the import looks at the machine over this long, and waits while it is busy, as between chunks:
# that parse, started the moment the upload was queued, came on top of the upload's own cost in
# the web worker; both workers then queued requests for ~2 s (bench/write_load.py --timeline,
# SQLite: p50 184–194 ms, p99 456–519 ms in the two seconds after the upload)
FIRST_LOOK_SECONDS = 0.2
PROGRESS_EVERY_SECONDS = 0.5
_ROW = re.compile(r"第 (\d+) 行 → [^→]*$")


class Interrupted(Exception):
    """The worker is stopping: the job goes back to the queue, its stored rows kept."""


def source_of(job_id: int, filename: str) -> str:
    return f"导入任务 {job_id} {filename or '表格'}"


def stored_by(session, job_id: int) -> dict[int, str]:
    """Sheet row → case number for the rows this job stored before (an interrupted run)."""
    prefix = f"导入任务 {job_id} "
    rows = session.exec(select(CaseHistory.note, Case.number).join(Case, Case.id == CaseHistory.case_id)
                        .where(CaseHistory.action == "imported", CaseHistory.note.startswith(prefix, autoescape=True)))
    found = {}
    for note, number in rows:
        match = _ROW.search(note or "")
        if match:
            found[int(match.group(1))] = number
    return found


def run(engine: Engine, job_id: int, runner: str, *, rules: service.CaseRules,
        stopping: threading.Event | None = None, chunk: int = CHUNK,
        write: Callable[[Callable[[], None]], None] | None = None,
        pause: Callable[[float, threading.Event], float] | None = None) -> None:
    """Run (or resume) import job ``job_id`` held by ``runner``; finishes the job (done with the
    report, or failed with the problem) unless the worker stops (``Interrupted``) or lost it.
    ``write`` runs each chunk's write transaction (the job worker's ``Urgent`` thread, which
    keeps normal priority while this thread's CPU work is niced); ``pause(seconds, stopping)``
    waits before the sheet is parsed (``FIRST_LOOK_SECONDS``), between chunks, and for 0 s between
    batches of rows checked (the job worker's waits longer while the machine is busy: ``api.pacing``)."""
    stopping = stopping or threading.Event()
    write = write or (lambda fn: fn())
    pause = pause or _just_wait
    with make_session(engine) as session:
        job = session.get(Job, job_id)
        params, actor = dict(job.params), job.requested_by
        upload = jobs.read_input(session, job_id)
        content, filename = upload.content, upload.filename
        done = stored_by(session, job_id)
    dry_run = bool(params.get("dry_run"))
    progress = _Progress(engine, job_id, runner, dry_run)
    held: list[float] = []
    paused: list[float] = []

    def breathe() -> None:          # between batches of rows read, then checked
        paused.append(pause(0.0, stopping))

    try:
        paused.append(pause(FIRST_LOOK_SECONDS, stopping))
        table = sheet_import.read_table(content, filename, encoding=params.get("encoding"), breather=breathe)
        own = frozenset(done.values())
        with make_session(engine) as session:
            checks = sheet_import.check_rows(session, table, tz=rules.clock.tz, progress=progress, own=own,
                                             breather=breathe)
        if not dry_run:
            good = [c for c in checks if c.data is not None and not c.errors and c.row not in done]
            total = len(good) + len(done)
            progress("store", len(done), total, force=True)
            for start in range(0, len(good), chunk):
                if stopping.is_set():
                    raise Interrupted
                part = good[start:start + chunk]
                with make_session(engine) as session:      # the CPU of storing, before the lock
                    prepared = sheet_import.prepare_chunk(session, part, actor=actor, rules=rules)
                began = time.perf_counter()
                write(functools.partial(_store_chunk, engine, job_id, runner, part, done, own, actor=actor,
                                        rules=rules, source=source_of(job_id, filename), total=total,
                                        prepared=prepared))
                held.append(time.perf_counter() - began)
                if start + chunk < len(good):
                    paused.append(pause(held[-1] * YIELD_RATIO, stopping))
        numbers = [done[row] for row in sorted(done)]
        result = sheet_import.report(table, checks, dry_run=dry_run, numbers=None if dry_run else numbers)
        # for operators: how long agents' saves could have waited behind this import
        result["write_transactions"] = {"count": len(held), "longest_seconds": round(max(held, default=0), 3),
                                        "total_seconds": round(sum(held), 3)}
        result["paused_seconds"] = round(sum(paused), 1)       # between chunks, for the agents (api.pacing)
    except DomainError as exc:
        jobs.finish(engine, job_id, runner, "failed", exc.message, result=jobs.fail_error(exc))
        return
    summary = (f"检查完成：{result['ok_rows']} 行合格，{result['bad_rows']} 行有问题" if dry_run
               else f"完成：导入 {result['imported']} 行，{result['bad_rows']} 行有问题")
    jobs.finish(engine, job_id, runner, "done", summary, result={**result, "phase": "done"})
    with make_session(engine, write=True) as session:
        jobs.drop_input(session, job_id)


def _just_wait(seconds: float, stopping: threading.Event) -> float:
    stopping.wait(seconds)
    return seconds


def _store_chunk(engine: Engine, job_id: int, runner: str, chunk: list[sheet_import.RowCheck], done: dict[int, str],
                 own: frozenset[str], *, actor: str, rules: service.CaseRules, source: str, total: int,
                 prepared: dict[int, Case]) -> None:
    """One short write transaction: re-check for duplicates stored meanwhile, store, and move
    the job's progress — all or nothing, and only while this runner holds the job."""
    with make_session(engine, write=True) as session:
        job = jobs.held(session, job_id, runner)
        stored = sheet_import.store_chunk(session, chunk, actor=actor, rules=rules, source=source, own=own,
                                          prepared=prepared)
        count = len(done) + len(stored)
        jobs.update(job, progress=0.5 + 0.5 * count / max(total, 1), message=f"已保存 {count}/{total} 行",
                    result={"phase": "store", "done": count, "total": total})
        session.add(job)
        service._commit(session)
    done.update(stored)


class _Progress:
    """The check phase's progress, written to the job at most every half second."""

    def __init__(self, engine: Engine, job_id: int, runner: str, dry_run: bool) -> None:
        self.engine, self.job_id, self.runner = engine, job_id, runner
        self.share = 1.0 if dry_run else 0.5
        self._at = 0.0

    def __call__(self, phase: str, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._at < PROGRESS_EVERY_SECONDS and done < total:
            return
        self._at = now
        fraction = self.share * done / max(total, 1) if phase == "check" else 0.5 + 0.5 * done / max(total, 1)
        label = "检查" if phase == "check" else "保存"
        jobs.report(self.engine, self.job_id, self.runner, progress=min(fraction, 0.99),
                    message=f"{label} {done}/{total} 行", result={"phase": phase, "done": done, "total": total})

