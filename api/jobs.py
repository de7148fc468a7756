"""The job worker: takes jobs off the queue (``kb.jobs``) and runs them, one at a time per
node, holding each job's lease while it runs.

It runs in ``python -m api worker`` (next to the node's index writer) or, in the embedded
default, in whichever uvicorn worker holds ``<var>/jobs.lock`` — never on a request thread.
Training runs in a child process (``api.training``); an import or a rebuild runs in a thread
of the worker while the worker renews the lease. On a clean stop an import goes back to the
queue with its stored rows kept (the next worker resumes it), a rebuild too; a training is
ended and marked failed. A worker killed outright stops renewing; its job's lease lapses and
another worker takes it over (``kb.jobs.claim``)."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from datetime import timedelta
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy.engine import Engine

from api.pacing import Pacer
from api.priority import Urgent, lower_this_thread
from indexer import feed
from indexer.sync import rebuild_now_or_ask
from indexer.whoosh_index import WhooshIndex
from kb import jobs, uploads
from kb.cases import import_job
from kb.cases.service import prune_idempotency_keys, rules_from_settings
from kb.db import make_session
from kb.models import Job, JobKind

log = logging.getLogger("zhiku.jobs")
STOP_GRACE_SECONDS = 10           # a training child: SIGTERM → this long to finish cleanly → SIGKILL
REBUILD_WAIT_SECONDS = 1800
HOUSEKEEPING_SECONDS = 3600
IDEMPOTENCY_KEPT = timedelta(days=1)


class JobWorker:
    def __init__(self, engine: Engine, settings, index: WhooshIndex, *, poll_seconds: float = 0.5,
                 nice: int = 0) -> None:
        """``nice``: the niceness of the jobs' CPU work (the background process passes
        ``ZHIKU_BACKGROUND_NICE``); their write transactions keep this thread's priority
        (``api.priority``)."""
        self.engine = engine
        self.nice = nice
        self._urgent = Urgent() if nice > 0 else None
        self.settings = settings
        self.index = index
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.runner = jobs.runner_name("jobs")
        self.node = feed.replica_name(index.root)
        self.lock = FileLock(str(Path(settings.var_dir) / "jobs.lock"))
        self.holds_lock = False
        self.current: int | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._job_stop = threading.Event()
        self._child: multiprocessing.Process | None = None
        self._cleaned_at = float("-inf")
        self._thread = threading.Thread(target=self._loop, name="zhiku-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A job was queued in this process: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._job_stop.set()
        self._wake.set()
        child = self._child
        if child is not None and child.is_alive():
            child.terminate()
        self._thread.join(timeout=STOP_GRACE_SECONDS + 30)
        if self._urgent is not None:
            self._urgent.close()

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if not self.holds_lock:
                try:
                    self.lock.acquire(timeout=0)
                    self.holds_lock = True
                    log.info("this process runs the node's jobs")
                except Timeout:
                    self._stopping.wait(2.0)
                    continue
            try:
                job = jobs.claim(self.engine, runner=self.runner, node=self.node, lease=self.lease)
            except Exception:          # the database may be down for a moment
                log.exception("could not look for jobs")
                job = None
            if job is None:
                self._housekeeping()
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self.current = job.id
            try:
                self._run(job)
            except Exception:
                log.exception("job %s failed in the worker", job.id)
                jobs.finish(self.engine, job.id, self.runner, "failed", "服务器内部错误，任务未完成")
            finally:
                self.current = None
        if self.holds_lock:       # by the thread that acquired it: filelock's counts are per thread
            self.lock.release()
            self.holds_lock = False

    def _housekeeping(self) -> None:
        """Once an hour: forget idempotency keys older than a day, and remove uploaded files no
        job refers to (a web worker that died between writing one and committing its job)."""
        if time.monotonic() - self._cleaned_at < HOUSEKEEPING_SECONDS:
            return
        self._cleaned_at = time.monotonic()
        try:
            with make_session(self.engine, write=True) as session:
                pruned = prune_idempotency_keys(session, older_than=jobs.now() - IDEMPOTENCY_KEPT)
            if pruned:
                log.info("forgot old idempotency keys", extra={"rows": pruned})
        except Exception:
            log.exception("could not prune idempotency keys")
        upload_dir = uploads.directory(self.engine)
        if upload_dir is not None:
            try:
                with make_session(self.engine) as session:
                    swept = uploads.sweep(session, upload_dir)
                if swept:
                    log.info("removed uploaded files no job refers to", extra={"files": swept})
            except Exception:
                log.exception("could not sweep uploaded files")

    def _run(self, job: Job) -> None:
        log.info("running job", extra={"job": job.id, "kind": job.kind})
        self._job_stop.clear()
        if job.kind == JobKind.train:
            self._run_training(job)
        else:
            target = self._import if job.kind == JobKind.import_cases else self._rebuild
            thread = threading.Thread(target=self._guarded, args=(target, job.id), name=f"job-{job.id}", daemon=True)
            thread.start()
            self._hold_while(job.id, thread.is_alive, thread.join)

    def _hold_while(self, job_id: int, alive, join) -> bool:
        """Renew the lease while the job runs; False (and the job told to stop) once it is lost."""
        while alive():
            join(self.lease.total_seconds() / 4)
            if not alive():
                break
            try:
                jobs.renew(self.engine, job_id, self.runner, self.lease)
            except jobs.LostLease:
                log.warning("job %s was taken from this worker; stopping it", job_id)
                self._job_stop.set()
                if self._child is not None:
                    self._child.terminate()
                join(STOP_GRACE_SECONDS)
                return False
            except Exception:  # the database may be down for a moment; the lease is long
                log.warning("could not renew the lease of job %s", job_id)
        return True

    def _guarded(self, target, job_id: int) -> None:
        lower_this_thread(self.nice)
        try:
            target(job_id)
        except import_job.Interrupted:
            jobs.release(self.engine, job_id, self.runner, "工作进程停止：已保存的行保留，任务回到队列，由下一个工作进程继续")
        except jobs.LostLease:
            pass
        except Exception as exc:
            log.exception("job %s failed", job_id)
            jobs.finish(self.engine, job_id, self.runner, "failed", f"失败：{type(exc).__name__}: {exc}"[:500])

    # -- the kinds -----------------------------------------------------------------------

    def _import(self, job_id: int) -> None:
        pacer = Pacer(self.settings.import_pause_when_busy, self.settings.import_max_pause_seconds)
        import_job.run(self.engine, job_id, self.runner, rules=rules_from_settings(self.settings),
                       stopping=self._job_stop, write=self._urgent.call if self._urgent else None,
                       pause=pacer.pause)

    def _rebuild(self, job_id: int) -> None:
        jobs.report(self.engine, job_id, self.runner, progress=0.1, message="正在重建本节点的索引", log=True)
        try:
            done = rebuild_now_or_ask(self.engine, self.index, Path(self.settings.var_dir) / "indexer.lock",
                                      timeout=REBUILD_WAIT_SECONDS, stopping=self._job_stop)
        except TimeoutError as exc:
            if self._job_stop.is_set():
                raise import_job.Interrupted from exc
            raise
        jobs.finish(self.engine, job_id, self.runner, "done",
                    f"索引已重建：第 {done['generation']} 代，{done['documents']} 条文档", result=done)

    def _run_training(self, job: Job) -> None:
        from api.training import child_main

        child = multiprocessing.get_context("spawn").Process(
            target=child_main, args=(self.settings, job.id, self.runner, self.nice), name=f"zhiku-train-{job.id}", daemon=False)
        child.start()
        self._child = child
        try:
            self._hold_while(job.id, child.is_alive, child.join)
            if child.is_alive():
                child.join(STOP_GRACE_SECONDS)
            if child.is_alive():
                child.kill()
                child.join(5)
        finally:
            self._child = None
        message = ("中断：服务停止，训练已结束，请重新训练" if self._stopping.is_set()
                   else f"中断：训练进程意外退出（退出码 {child.exitcode}）")
        jobs.finish(self.engine, job.id, self.runner, "failed", message)    # no-op when the child finished it
