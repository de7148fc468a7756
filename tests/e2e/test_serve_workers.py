"""The documented way to run several workers, ``python -m api serve --workers 2``, as a
real process tree: it starts (uvicorn's supervisor changed its signature in 0.3x; this
caught it), answers on the shared socket from both workers, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx2 as httpx
import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import DATA_DIR
from tests.e2e.test_two_workers import free_port, wait_healthy

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    if not os.path.exists(path):
        pytest.skip("needs Linux /proc to see the worker processes")
    with open(path) as f:
        return [int(p) for p in f.read().split()]


def test_serve_with_two_workers_starts_answers_and_stops(tmp_path):
    port = free_port()
    env = {**os.environ, "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_VAR_DIR": str(tmp_path / "var"),
           "ZHIKU_PORT": str(port), "ZHIKU_HOST": "127.0.0.1", "ZHIKU_LOAD_DEMO_DATA": "false",
           "ZHIKU_LOG_JSON": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--workers", "2"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout=120)
        workers = children(proc.pid)
        assert len([p for p in workers if os.path.exists(f"/proc/{p}")]) >= 2, workers
        responses = [httpx.get(f"{url}/health/live", timeout=10) for _ in range(40)]   # a new connection each
        assert [r.status_code for r in responses] == [200] * 40
        answered_by = {r.json()["worker"] for r in responses}
        assert len(answered_by) >= 2, f"only worker(s) {answered_by} answered 40 connections"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode is not None
    output = proc.stdout.read()
    access = [line for line in output.splitlines() if "zhiku.access" in line and "path=/health/live" in line]
    assert len(access) >= 40, f"workers wrote {len(access)} access lines for 40 requests:\n{output[-2000:]}"

