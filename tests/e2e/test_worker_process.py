"""``python -m api worker`` as a process of its own, next to a web node that runs no jobs:
imports and rebuilds are done by the worker; a worker killed with SIGKILL in the middle of an
import leaves a job that the next worker takes over once the lease lapses, and the import
ends with every row stored exactly once."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import psutil
import pytest

from kb.cases.sheet_layout import SERVICE_HEADERS
from kb.settings import PROJECT_ROOT
from tests.conftest import DATA_DIR, wait_for
from tests.e2e.test_two_workers import free_port, wait_healthy

pytestmark = pytest.mark.slow


def sheet(n: int, start: int = 0) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SERVICE_HEADERS)
    for i in range(start, start + n):
        writer.writerow([str(i), f"2024-05-{1 + i // 1440:02d}", f"{i // 60 % 24:02d}:{i % 60:02d}", "电话",
                         f"客户{i}", "", "", f"咨询发票{i}", f"想了解电子发票如何开具（第 {i} 位客户）", "咨询", "中",
                         "待处理", "", "", "", "", ""])
    return buf.getvalue().encode("utf-8-sig")


def env(var: Path, port: int = 0) -> dict:
    return {**os.environ, "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_VAR_DIR": str(var),
            "ZHIKU_DATABASE_URL": f"sqlite:///{var / 'zhiku.db'}", "ZHIKU_PORT": str(port), "ZHIKU_HOST": "127.0.0.1",
            "ZHIKU_LOAD_DEMO_DATA": "false", "ZHIKU_BOOTSTRAP_MODEL": "false", "ZHIKU_EMBEDDED_WORKER": "false",
            "ZHIKU_EMBEDDED_INDEXER": "false", "ZHIKU_JOB_LEASE_SECONDS": "4", "ZHIKU_IMPORT_WAIT_SECONDS": "0"}


def start_worker(var: Path, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "api", "worker"], cwd=PROJECT_ROOT, env=env(var),
                            stdout=log.open("a"), stderr=subprocess.STDOUT)
    assert wait_for(lambda: "worker running" in log.read_text() or proc.poll() is not None, timeout=120)
    assert proc.poll() is None, log.read_text()
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_worker_process_runs_imports_and_rebuilds_and_a_killed_one_is_taken_over(tmp_path):
    var = tmp_path / "var"
    created = subprocess.run([sys.executable, "-m", "api", "create-admin"], cwd=PROJECT_ROOT, env=env(var),
                             capture_output=True, text=True, timeout=300, check=True)
    headers = {"Authorization": f"Bearer {created.stdout.strip().rsplit(' ', 1)[-1]}"}
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "api", "serve"], cwd=PROJECT_ROOT, env=env(var, port),
                           stdout=(tmp_path / "web.log").open("w"), stderr=subprocess.STDOUT)
    procs = [web]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, web, timeout=180)
        assert httpx.get(f"{url}/health", headers=headers).json()["jobs"]["worker_here"] is False
        first = start_worker(var, tmp_path / "worker.log")
        procs.append(first)

        def job(job_id: int) -> dict:
            return httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()

        def upload(content: bytes) -> int:
            r = httpx.post(f"{url}/api/v1/cases/import", headers={**headers, "Prefer": "respond-async"},
                           files={"file": ("表.csv", content, "text/csv")}, timeout=60)
            assert r.status_code == 202, r.text
            return r.json()["id"]

        small = upload(sheet(50))
        done = wait_for(lambda: (j := job(small))["status"] in ("done", "failed") and j, timeout=60)
        assert done["status"] == "done" and done["result"]["imported"] == 50, done
        assert done["runner"].split(":")[1] == str(first.pid)          # the worker process, not the web node
        # agents first: the index writer's process niced as a whole (ZHIKU_BACKGROUND_NICE), the
        # job worker's process not (its write transactions; jobs' CPU work is niced per thread)
        assert psutil.Process(first.pid).nice() == 0
        (indexer,) = [c for c in psutil.Process(first.pid).children() if "resource_tracker" not in " ".join(c.cmdline())]
        assert wait_for(lambda: indexer.nice() == 10, timeout=30)      # once it has started

        rebuild = httpx.post(f"{url}/api/v1/index/rebuild", headers=headers, timeout=30).json()
        rebuilt = wait_for(lambda: (j := job(rebuild[0]["id"]))["status"] in ("done", "failed") and j, timeout=120)
        assert rebuilt["status"] == "done", rebuilt

        big = upload(sheet(8000, start=100))
        # SIGKILL while it stores: some rows are in, the job still runs, nobody says goodbye
        assert wait_for(lambda: job(big)["result"].get("phase") == "store" and job(big)["result"]["done"] > 0,
                        timeout=120, interval=0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        # its index writer notices and ends by itself: no orphan holds the index's lock
        assert wait_for(lambda: not indexer.is_running() or indexer.status() == psutil.STATUS_ZOMBIE, timeout=15)
        stalled = job(big)
        assert stalled["status"] == "running" and stalled["result"]["done"] < 7950, stalled

        second = start_worker(var, tmp_path / "worker.log")
        procs.append(second)
        finished = wait_for(lambda: (j := job(big))["status"] in ("done", "failed") and j, timeout=300)
        assert finished["status"] == "done", finished
        assert finished["attempts"] == 2 and finished["runner"].split(":")[1] == str(second.pid)
        assert finished["result"]["imported"] == 8000 and len(set(finished["result"]["numbers"])) == 8000
        listed = httpx.get(f"{url}/api/v1/cases", headers=headers, params={"page_size": 1}, timeout=30).json()
        assert listed["total"] == 8050                                  # no row twice, none lost
    finally:
        for proc in reversed(procs):
            stop(proc)
