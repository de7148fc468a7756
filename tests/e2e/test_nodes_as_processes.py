"""Two app nodes as real process trees (``python -m api serve --workers 2`` each, own var dir
and port, one PostgreSQL database): case numbers stay unique across nodes, a case resolved
through A is found through B, B converges after its index writer is killed with SIGKILL,
and a third node started later catches up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import DATA_DIR, POSTGRES_URL, case_payload, fresh_postgres_database, wait_for
from tests.e2e.test_log_and_suggest import RESOLUTION
from tests.e2e.test_two_workers import free_port, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]



def node_env(db_url: str, var: Path, port: int) -> dict:
    return {**os.environ, "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_VAR_DIR": str(var), "ZHIKU_DATABASE_URL": db_url,
            "ZHIKU_PORT": str(port), "ZHIKU_HOST": "127.0.0.1", "ZHIKU_LOAD_DEMO_DATA": "false",
            "ZHIKU_BOOTSTRAP_MODEL": "false", "ZHIKU_INDEX_POLL_SECONDS": "0.2", "ZHIKU_LOG_JSON": "true"}


def start(db_url: str, var: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--workers", "2"], cwd=PROJECT_ROOT,
                            env=node_env(db_url, var, port), stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, timeout=180)
    return proc, url


def writer_pid(var: Path) -> int | None:
    """The worker process holding this node's indexer.lock open (the index writer)."""
    lock = str((var / "indexer.lock").resolve())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == lock for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None



def test_nodes_as_processes_share_one_database(tmp_path, worker_id):
    if not POSTGRES_URL:
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    if not os.path.isdir("/proc"):
        pytest.skip("needs Linux /proc to find the writer process")
    db_url = fresh_postgres_database(f"zhiku_nodes_{worker_id}")
    created = subprocess.run([sys.executable, "-m", "api", "create-admin"], cwd=PROJECT_ROOT,
                             env=node_env(db_url, tmp_path / "a", 0), capture_output=True, text=True, timeout=300,
                             check=True)
    key = created.stdout.strip().rsplit(" ", 1)[-1]
    headers = {"Authorization": f"Bearer {key}"}
    procs = []
    try:
        a, url_a = start(db_url, tmp_path / "a", tmp_path / "a.log")
        procs.append(a)
        b, url_b = start(db_url, tmp_path / "b", tmp_path / "b.log")
        procs.append(b)

        def create(i: int) -> str:
            url = (url_a, url_b)[i % 2]
            r = httpx.post(f"{url}/api/v1/cases", headers=headers, timeout=30,
                           json=case_payload(subject=f"两节点并发登记 {i}", description=f"并发登记第 {i} 条"))
            assert r.status_code == 201, r.text
            return r.json()["number"]

        with ThreadPoolExecutor(8) as pool:
            numbers = list(pool.map(create, range(40)))
        assert len(set(numbers)) == 40                                  # unique across both nodes

        def resolve_on_a(subject: str, description: str) -> str:
            number = httpx.post(f"{url_a}/api/v1/cases", headers=headers, timeout=30,
                                json=case_payload(subject=subject, description=description)).json()["number"]
            assert httpx.post(f"{url_a}/api/v1/cases/{number}/resolve", headers=headers, json=RESOLUTION,
                              timeout=30).status_code == 200
            return number

        def found(url: str, q: str, number: str) -> bool:
            r = httpx.get(f"{url}/api/v1/search", headers=headers, params={"q": q}, timeout=30)
            return r.status_code == 200 and number in [i["number"] for i in r.json()["items"]]

        first = resolve_on_a("门禁闸机刷卡无反应", "闸机刷卡一直红灯 G4410")
        assert wait_for(lambda: found(url_b, "闸机 G4410", first), timeout=60), "node B never found the case resolved on A"

        victim = wait_for(lambda: writer_pid(tmp_path / "b"), timeout=60)
        assert victim and victim != b.pid
        os.kill(victim, signal.SIGKILL)                                 # B's writer dies mid-whatever
        second = resolve_on_a("发票红冲失败", "红冲时提示税控盘错误 T2201")
        assert wait_for(lambda: found(url_b, "红冲 T2201", second), timeout=90), "node B did not converge"
        assert writer_pid(tmp_path / "b") not in (None, victim)          # another worker took the writer over

        c, url_c = start(db_url, tmp_path / "c", tmp_path / "c.log")    # a node added later
        procs.append(c)
        assert wait_for(lambda: found(url_c, "闸机 G4410", first) and found(url_c, "红冲 T2201", second), timeout=60)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
