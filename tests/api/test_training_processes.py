"""Training runs in a child process whose scikit-learn workers end with the job; stopping the
server ends the child and marks the job failed; a job abandoned by a killed server stops
blocking training once its lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psutil
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kb.cases.service import rules_from_settings
from kb.db import make_session
from kb.demo import load_demo
from kb.models import Job, Role
from kb.settings import Settings
from tests.conftest import DATA_DIR, DEMO_CASES, add_user, wait_for

pytestmark = pytest.mark.slow



def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def descendants() -> set[int]:
    """This process's descendants, except multiprocessing's resource tracker: one helper per
    parent process (here pytest's), started with the first spawn and living as long as it."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if not any("resource_tracker" in part for part in p.cmdline()):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture
def desk(tmp_path, db_url):
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url, embedded_indexer=False)
    app = create_app(settings)
    client = TestClient(app)
    client.__enter__()
    assert load_demo(app.state.engine, DATA_DIR / "demo", rules_from_settings(settings)) == DEMO_CASES
    key = add_user(app.state.engine, "ana", Role.analyst)
    yield client, {"Authorization": f"Bearer {key}"}
    client.__exit__(None, None, None)


def job_status(client, headers, job_id: int) -> dict:
    return client.get(f"/api/v1/models/train/{job_id}", headers=headers).json()


def test_the_training_process_and_its_workers_end_with_the_job(desk):
    client, headers = desk
    before = descendants()
    job = client.post("/api/v1/models/train", headers=headers, json={}).json()
    started = wait_for(lambda: descendants() - before, timeout=30)
    assert started, "no training process was started"
    seen = set(started)

    def finished():
        seen.update(descendants() - before)      # the loky workers appear while fitting
        status = job_status(client, headers, job["id"])
        return status if status["status"] in ("done", "failed") else None

    status = wait_for(finished, timeout=120)
    assert status and status["status"] == "done", status
    started_line = next(line["message"] for line in status["log"] if line["message"].startswith("训练进程"))
    trainer_pid = int(started_line.split()[1].split(":")[1])
    assert trainer_pid in seen and trainer_pid != psutil.Process().pid     # not inside the web worker
    assert wait_for(lambda: not alive(seen), timeout=30), f"still running after the job: {[psutil.Process(p).cmdline() for p in alive(seen)]}"


def test_stopping_the_server_ends_the_training_and_marks_the_job_failed(tmp_path, db_url):
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url, embedded_indexer=False)
    app = create_app(settings)
    before = descendants()
    with TestClient(app) as client:
        assert load_demo(app.state.engine, DATA_DIR / "demo", rules_from_settings(settings)) == DEMO_CASES
        headers = {"Authorization": f"Bearer {add_user(app.state.engine, 'ana', Role.analyst)}"}
        job = client.post("/api/v1/models/train", headers=headers, json={"char_ngram_max": 4}).json()

        def fitting():
            # stop while the child is fitting, not in the last moments when it saves the version:
            # a loaded CI box once saw "done" because the stop came after the save
            status = job_status(client, headers, job["id"])
            return status["status"] == "running" and 0.05 <= (status["progress"] or 0) < 0.6

        assert wait_for(fitting, timeout=60)
        children = descendants() - before
        assert children
    # the server has stopped: its training process and that process's workers are gone
    assert wait_for(lambda: not alive(children), timeout=30), f"outlived the server: {alive(children)}"
    with make_session(app.state.engine) as s:
        stopped = s.get(Job, job["id"])
    assert stopped.status == "failed" and "服务停止" in stopped.message


def test_a_job_abandoned_by_a_killed_server_stops_blocking_once_its_lease_runs_out(desk):
    client, headers = desk
    engine = client.app.state.engine
    now = datetime.now(UTC)
    with make_session(engine, write=True) as s:
        s.add(Job(kind="train", status="running", requested_by="ana", params={}, created_at=now - timedelta(hours=1),
                          lease_until=now + timedelta(seconds=60), runner="other-node:4242"))
        s.commit()
    blocked = client.post("/api/v1/models/train", headers=headers, json={})
    assert blocked.status_code == 409 and blocked.json()["errors"][0]["field"] == "job"
    with make_session(engine, write=True) as s:
        held = s.exec(Job.__table__.select()).first()
        s.get(Job, held.id).lease_until = now - timedelta(seconds=1)    # the runner stopped renewing
        s.commit()
    started = client.post("/api/v1/models/train", headers=headers, json={})
    assert started.status_code == 202, started.text
    old = job_status(client, headers, held.id)
    assert old["status"] == "failed" and "other-node:4242" in old["message"]
    assert wait_for(lambda: job_status(client, headers, started.json()["id"])["status"] in ("done", "failed"),
                    timeout=120)
