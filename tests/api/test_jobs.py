"""Background jobs as database rows: imports and rebuilds run by the node's job worker, with
progress through the API; a job whose worker died is taken over and an import resumes at
the rows it had stored; a worker that lost its lease writes nothing more."""

from __future__ import annotations

import csv
import io
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from api.app import create_app
from kb import jobs
from kb.cases import import_job
from kb.cases.sheet_layout import SERVICE_HEADERS
from kb.db import make_session
from kb.models import Case, Job, JobKind, Role
from kb.settings import Settings
from tests.conftest import DATA_DIR, add_user, wait_for


def sheet(n: int, start: int = 0) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SERVICE_HEADERS)
    for i in range(start, start + n):
        writer.writerow([str(i), "2024-05-21", f"{8 + i // 60 % 10:02d}:{i % 60:02d}", "电话", f"客户{i}", "", "",
                         f"咨询发票{i}", "想了解电子发票如何开具", "咨询", "中", "待处理", "", "", "", "", ""])
    return buf.getvalue().encode("utf-8-sig")


def cases_in(engine) -> int:
    with make_session(engine) as s:
        return s.exec(select(func.count()).select_from(Case)).one()


def job_row(engine, job_id: int) -> Job:
    with make_session(engine) as s:
        return s.get(Job, job_id)


def test_an_async_import_is_a_job_others_cannot_see(api):
    resp = api.client.post("/api/v1/cases/import", files={"file": ("s.csv", sheet(30), "text/csv")},
                           headers={**api.as_("agent"), "Prefer": "respond-async"})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert resp.headers["Location"] == f"/api/v1/jobs/{job['id']}" and job["kind"] == "import"
    done = wait_for(lambda: (j := api.get(f"/api/v1/jobs/{job['id']}").json())["status"] in ("done", "failed") and j)
    assert done["status"] == "done", done
    assert done["result"]["imported"] == 30 and len(done["result"]["numbers"]) == 30
    assert done["runner"] and done["attempts"] == 1 and done["log"][-1]["message"].startswith("完成")
    assert cases_in(api.engine) == 30
    # another agent sees neither the job nor its report; an analyst (and admin) does
    other = add_user(api.engine, "agent2", Role.agent)
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert api.client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {other}"}).json() == []
    assert api.get(f"/api/v1/jobs/{job['id']}", role="analyst").status_code == 200
    assert [j["id"] for j in api.get("/api/v1/jobs?kind=import", role="admin").json()] == [job["id"]]


def test_a_bad_file_fails_its_job_and_the_waiting_request_answers_422(api):
    # an XLSX is only opened by the job (inflating it is not quick), so a damaged one fails there
    resp = api.post("/api/v1/cases/import", files={"file": ("x.xlsx", b"PK\x03\x04damaged", "application/zip")})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "file"
    failed = api.get(f"/api/v1/jobs/{resp.json()['job_id']}").json()
    assert failed["status"] == "failed" and "XLSX" in failed["message"]


@pytest.fixture
def no_worker(db_url, tmp_path, clock):
    """A node whose web workers run no jobs (``python -m api worker`` would)."""
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url, embedded_worker=False,
                        embedded_indexer=False, import_wait_seconds=0.3)
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        key = add_user(app.state.engine, "agent1", Role.agent)
        yield client, {"Authorization": f"Bearer {key}"}, app, settings


def test_without_a_worker_the_import_waits_then_answers_202_and_a_queued_job_can_be_cancelled(no_worker):
    client, headers, app, _ = no_worker
    resp = client.post("/api/v1/cases/import", files={"file": ("s.csv", sheet(5), "text/csv")}, headers=headers)
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    job_id = resp.json()["id"]
    state = client.get("/api/v1/jobs?status=queued", headers=headers).json()
    assert [j["id"] for j in state] == [job_id]
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "failed"
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "job_id"
    assert cases_in(app.state.engine) == 0


def test_a_file_that_cannot_be_a_sheet_is_refused_before_any_job_is_queued(no_worker):
    # reproduction: a file named "file" (no extension) waited behind the queue for 10.6 s before
    # its 422; here no worker runs, so a queued job would have answered 202
    client, headers, app, _ = no_worker
    bad = [("file", b"", "文件是空的"), ("notes.pdf", b"%PDF-1.7 ...", "只支持"),
           ("x.csv", "名称,地址\n张三,北京\n".encode(), "找不到表头行"),
           ("x.csv", b"\xff\xfe\x00\xd8 not utf-8 nor gb18030 \x80\xff", "编码")]
    for name, content, words in bad:
        resp = client.post("/api/v1/cases/import", files={"file": (name, content, "application/octet-stream")},
                           headers=headers)
        assert resp.status_code == 422, (name, resp.text)
        assert resp.json()["errors"][0]["field"] == "file" and words in resp.json()["detail"], resp.text
    assert client.get("/api/v1/jobs", headers=headers).json() == []
    resp = client.post("/api/v1/cases/import", files={"file": ("s.csv", sheet(5), "text/csv")}, headers=headers)
    assert resp.status_code == 202 and resp.json()["status"] == "queued"


def queue_import(client, headers, rows: int) -> int:
    """An import queued on the node without a worker: the tests below play the workers."""
    resp = client.post("/api/v1/cases/import", files={"file": ("s.csv", sheet(rows), "text/csv")},
                       headers={**headers, "Prefer": "respond-async"})
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def claim_import(engine, runner: str, job_id: int) -> Job:
    job = jobs.claim(engine, runner=runner, node=None, kinds=(JobKind.import_cases,))
    assert job is not None and job.id == job_id
    return job


class StopAfter(threading.Event):
    """A stop signal that arrives after ``n`` chunks were stored."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def stopped_after(engine, rules, job_id: int, chunks: int) -> None:
    """Worker A claims the import and stops after ``chunks`` chunks of 200 rows."""
    claim_import(engine, "node-a:1:jobs", job_id)
    with pytest.raises(import_job.Interrupted):
        import_job.run(engine, job_id, "node-a:1:jobs", rules=rules, stopping=StopAfter(chunks), chunk=200)


def test_a_job_whose_worker_died_is_taken_over_and_the_import_resumes_where_it_stopped(no_worker, rules):
    client, headers, app, _ = no_worker
    engine = app.state.engine
    job_id = queue_import(client, headers, 500)
    stopped_after(engine, rules, job_id, 2)      # worker A then dies without a word (no release, no finish)
    assert cases_in(engine) == 400
    assert jobs.claim(engine, runner="node-b:2:jobs", node=None) is None      # A's lease still holds
    with make_session(engine, write=True) as s:
        s.get(Job, job_id).lease_until = jobs.now() - timedelta(seconds=1)
        s.commit()
    # worker B takes it over and stores only the rest: no row twice, the numbers of A's rows kept
    taken = claim_import(engine, "node-b:2:jobs", job_id)
    assert taken.attempts == 2 and "接手" in taken.log[-1]["message"]
    import_job.run(engine, job_id, "node-b:2:jobs", rules=rules)
    done = job_row(engine, job_id)
    assert done.status == "done", done.message
    assert done.result["imported"] == 500 and done.result["bad_rows"] == 0
    assert cases_in(engine) == 500 and len(set(done.result["numbers"])) == 500
    # A, waking up late, can no longer write to the job it lost
    with pytest.raises(jobs.LostLease):
        jobs.report(engine, job_id, "node-a:1:jobs", progress=0.5, message="late")


def test_a_worker_that_lost_its_lease_stores_no_more_rows(no_worker, rules):
    client, headers, app, _ = no_worker
    engine = app.state.engine
    job_id = queue_import(client, headers, 300)
    claim_import(engine, "node-a:1:jobs", job_id)
    with make_session(engine, write=True) as s:       # meanwhile B took the job over
        job = s.get(Job, job_id)
        job.runner = "node-b:2:jobs"
        s.commit()
    with pytest.raises(jobs.LostLease):
        import_job.run(engine, job_id, "node-a:1:jobs", rules=rules)
    assert cases_in(engine) == 0


def test_a_clean_stop_puts_the_import_back_in_the_queue_with_its_rows_kept(no_worker, rules):
    client, headers, app, _ = no_worker
    engine = app.state.engine
    job_id = queue_import(client, headers, 450)
    stopped_after(engine, rules, job_id, 1)
    jobs.release(engine, job_id, "node-a:1:jobs", "stopping")
    queued = job_row(engine, job_id)
    assert queued.status == "queued" and queued.runner is None and cases_in(engine) == 200
    claim_import(engine, "node-b:2:jobs", job_id)
    import_job.run(engine, job_id, "node-b:2:jobs", rules=rules)
    assert job_row(engine, job_id).result["imported"] == 450 and cases_in(engine) == 450


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux nices threads one by one")
def test_a_niced_worker_checks_rows_niced_and_stores_them_at_normal_priority(no_worker):
    """The background process nices an import's CPU work, not its write transactions: niced,
    a chunk's transaction waited for the CPU with the write lock held, and every agent's save
    waited behind it (``api.priority``)."""
    from sqlalchemy import event

    from api.jobs import JobWorker

    client, headers, app, settings = no_worker
    engine = app.state.engine
    base = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[tuple[str, int]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        kind = "insert case" if statement.startswith('INSERT INTO "case"') else "other"
        seen.append((kind, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    event.listen(engine, "before_cursor_execute", record)
    worker = JobWorker(engine, settings, app.state.index, poll_seconds=0.05, nice=base + 4)
    worker.start()
    try:
        job_id = queue_import(client, headers, 120)
        assert wait_for(lambda: job_row(engine, job_id).status == "done", timeout=60), job_row(engine, job_id).message
    finally:
        worker.stop()
        event.remove(engine, "before_cursor_execute", record)
    assert cases_in(engine) == 120
    inserts = {nice for kind, nice in seen if kind == "insert case"}
    assert inserts == {base}, seen
    assert ("other", base + 4) in seen                       # the rows were checked and prepared niced
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base


def test_an_admin_rebuilds_every_replica_through_jobs(api):
    assert api.post("/api/v1/index/rebuild").status_code == 403
    # the writer thread builds the first generation after start-up; the rebuild must replace it
    before = wait_for(lambda: api.get("/health", role="admin").json()["index"]["generation"], timeout=60)
    assert before
    queued = api.post("/api/v1/index/rebuild", role="admin")
    assert queued.status_code == 202, queued.text
    assert [j["kind"] for j in queued.json()] == ["rebuild"] and queued.json()[0]["node"]

    def finished():
        job = api.get(f"/api/v1/jobs/{queued.json()[0]['id']}", role="admin").json()
        return job if job["status"] in ("done", "failed") else None

    job = wait_for(finished, timeout=60)
    assert job and job["status"] == "done", job
    assert job["result"]["previous"] == before and job["result"]["generation"] != before
    assert api.get("/health", role="admin").json()["index"]["generation"] == job["result"]["generation"]


def run_paced_import(no_worker, rules, rows: int, chunk: int, waited: float):
    """An import of ``rows`` run by a pacer that records each pause asked for and reports
    ``waited`` seconds for it (as if the machine had been busy): (the pauses asked, the job)."""
    client, headers, app, _ = no_worker
    engine = app.state.engine
    job_id = queue_import(client, headers, rows)
    claim_import(engine, "node-a:1:jobs", job_id)
    asked: list[float] = []

    def pause(seconds: float, stopping: threading.Event) -> float:
        asked.append(seconds)
        return waited

    import_job.run(engine, job_id, "node-a:1:jobs", rules=rules, chunk=chunk, pause=pause)
    done = job_row(engine, job_id)
    assert done.result["imported"] == rows and cases_in(engine) == rows
    return asked, done


def test_an_import_pauses_between_its_chunks_and_reports_the_pauses(no_worker, rules):
    """The job worker's pacer (api.pacing) is handed the pause after each chunk but the last."""
    asked, done = run_paced_import(no_worker, rules, 120, chunk=50, waited=1.5)
    assert asked[0] == import_job.FIRST_LOOK_SECONDS                  # before the sheet is parsed
    assert len(asked) == 3 and all(s >= 0 for s in asked)           # after rows 50 and 100, not after 120
    assert done.result["paused_seconds"] == 4.5


def test_a_large_imports_check_also_waits_for_a_busy_machine(no_worker, rules):
    """Checking 20,000 rows is seconds of CPU before anything is stored: the pacer is handed a
    pause (of at least 0 s) after every 500 rows checked, as well as after each stored chunk."""
    asked, done = run_paced_import(no_worker, rules, 1200, chunk=1000, waited=1.5)
    assert asked[1:3] == [0.0, 0.0] and len(asked) == 4     # after rows 500 and 1,000 checked; after chunk 1
    assert done.result["paused_seconds"] == 6.0


def test_reading_a_large_sheet_breathes_between_batches_of_rows():
    """Parsing a 24 MB CSV is ~0.25 s of a core in one piece: the reader hands the pacer a
    breather after every ``READ_BATCH`` rows, as the check does after every ``CHECK_BATCH``."""
    from kb.cases import sheet_import

    calls: list[int] = []
    table = sheet_import.read_table(sheet(2 * sheet_import.READ_BATCH + 10), "s.csv",
                                    breather=lambda: calls.append(1))
    assert len(table.rows) == 2 * sheet_import.READ_BATCH + 10 and len(calls) == 2


def test_an_import_waits_for_a_busy_machine_before_it_parses_its_sheet(no_worker, rules):
    """Reproduction (bench/write_load.py --timeline, SQLite, 100k cases, 20 creations + 100
    suggestions/s): the job parsed the whole 23.7 MB sheet the moment it was queued, on top of
    the upload's own cost in a web worker; both workers then queued requests for ~2 s (p99
    456–519 ms). The first pause now comes before any row is read or checked."""
    client, headers, app, _ = no_worker
    engine = app.state.engine
    job_id = queue_import(client, headers, 1200)
    claim_import(engine, "node-a:1:jobs", job_id)
    seen: list[tuple[float, str]] = []

    def pause(seconds: float, stopping: threading.Event) -> float:
        seen.append((seconds, job_row(engine, job_id).message))
        return seconds

    import_job.run(engine, job_id, "node-a:1:jobs", rules=rules, chunk=1000, pause=pause)
    assert job_row(engine, job_id).result["imported"] == 1200
    first_wait, message_then = seen[0]
    assert first_wait > 0 and "检查" not in message_then, seen
    assert any("检查" in message for _, message in seen[1:]), seen    # the later pauses come while checking


def test_on_sqlite_a_queued_sheet_waits_beside_the_database_and_goes_with_its_import(no_worker, rules):
    """Reproduction (bench/write_load.py, SQLite, 100k cases): queuing a 23.7 MB sheet wrote it
    into the job row, held the one write lock and checkpointed 5,800 WAL pages — agents' case
    creation p99 36 → 261 ms in that phase with no import even running. On SQLite the file now
    waits beside the database; on PostgreSQL it stays in the row (any node's worker runs it)."""
    from kb import uploads
    from kb.models import JobInput

    client, headers, app, _ = no_worker
    engine = app.state.engine
    job_id = queue_import(client, headers, 120)
    with make_session(engine) as s:
        row = s.get(JobInput, job_id)
        stored_as, content = row.stored_as, bytes(row.content)
    if engine.dialect.name == "postgresql":
        assert stored_as is None and content == sheet(120)
    else:
        folder = uploads.directory(engine)
        database = Path(engine.url.database)
        assert content == b"" and stored_as
        assert folder == database.with_name(f"{database.name}-uploads")
        assert (folder / stored_as).read_bytes() == sheet(120)
    claim_import(engine, "node-a:1:jobs", job_id)
    import_job.run(engine, job_id, "node-a:1:jobs", rules=rules)
    assert job_row(engine, job_id).result["imported"] == 120 and cases_in(engine) == 120
    with make_session(engine) as s:
        assert s.get(JobInput, job_id) is None
    if stored_as:
        assert not (uploads.directory(engine) / stored_as).exists()


def test_a_queued_sheet_whose_file_is_gone_is_refused_by_name_not_read_as_empty(no_worker, rules):
    from kb import uploads
    from kb.errors import NotFound

    client, headers, app, _ = no_worker
    engine = app.state.engine
    if uploads.directory(engine) is None:
        pytest.skip("the sheet is in the row on this backend")
    job_id = queue_import(client, headers, 10)
    for path in uploads.directory(engine).iterdir():
        path.unlink()
    claim_import(engine, "node-a:1:jobs", job_id)
    with pytest.raises(NotFound, match=f"任务 {job_id} 的文件已不存在"):
        import_job.run(engine, job_id, "node-a:1:jobs", rules=rules)
    assert cases_in(engine) == 0


def test_files_no_job_refers_to_are_swept_once_old_and_names_never_leave_the_folder(no_worker):
    from kb import uploads

    client, headers, app, _ = no_worker
    engine = app.state.engine
    folder = uploads.directory(engine)
    if folder is None:
        pytest.skip("the sheet is in the row on this backend")
    job_id = queue_import(client, headers, 5)
    kept = [p.name for p in folder.iterdir()]
    orphan_old, orphan_new = uploads.put(folder, b"old"), uploads.put(folder, b"new")
    partial = folder / "abc.upload.partial"
    partial.write_bytes(b"half")
    unrelated = folder / "notes.txt"
    unrelated.write_bytes(b"not ours")
    hour_ago = time.time() - 7200
    for name in (*kept, orphan_old, partial.name, unrelated.name):
        os.utime(folder / name, (hour_ago, hour_ago))
    with make_session(engine) as s:
        assert uploads.sweep(s, folder, older_than_seconds=3600) == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, orphan_new, unrelated.name])
    assert len(kept) == 1 and job_row(engine, job_id).status == "queued"
    for bad in ("../zhiku.sqlite3", "x/y.upload", "plain.txt"):
        with pytest.raises(ValueError):
            uploads.get(folder, bad)


def test_a_sheet_is_on_disk_before_the_write_lock_and_gone_if_its_job_never_commits(no_worker):
    """Writing the file is I/O (an fsync of megabytes): done inside the write transaction, every
    agent's save would wait for it. And a job that fails to commit leaves no file behind."""
    from sqlalchemy import event

    from kb import uploads

    client, headers, app, _ = no_worker
    engine = app.state.engine
    folder = uploads.directory(engine)
    if folder is None:
        pytest.skip("the sheet is in the row on this backend")
    at_first_insert: list[list[str]] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO job ") and not at_first_insert:
            at_first_insert.append(sorted(p.name for p in folder.iterdir()) if folder.is_dir() else [])
        if statement.startswith("INSERT INTO job_input") and fail:
            raise RuntimeError("the disk is full")

    fail = False
    event.listen(engine, "before_cursor_execute", watch)
    try:
        job_id = queue_import(client, headers, 3)
        assert len(at_first_insert) == 1 and len(at_first_insert[0]) == 1, at_first_insert
        assert at_first_insert[0][0].endswith(".upload")
        fail = True
        with make_session(engine, write=True) as s, pytest.raises(RuntimeError):
            jobs.enqueue(s, kind=JobKind.import_cases, actor="agent1", upload=sheet(2), filename="s.csv")
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert [p.name for p in folder.iterdir()] == at_first_insert[0]
    with make_session(engine) as s:
        assert [j.id for j in s.exec(select(Job))] == [job_id]
