"""Two real service processes on one database: a promotion made through one is picked up
by the other within seconds while it keeps answering, and concurrent case creation through
both never collides."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from kb.access import create_user, issue_key
from kb.db import make_session
from kb.models import ModelVersion, Role, UserCreate
from kb.settings import PROJECT_ROOT, Settings
from kb.setup import prepare_database
from tests.conftest import DATA_DIR, T0, case_payload

pytestmark = pytest.mark.slow
LABELS = {"type": {"咨询", "投诉", "建议", "变更", "其他"}, "priority": {"高", "中", "低"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture
def two_servers(tmp_path, saved_model):
    var = tmp_path / "var"
    db_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    settings = Settings(data_dir=DATA_DIR, var_dir=var, database_url=db_url)
    engine = prepare_database(settings)
    directory, values = saved_model
    versions = []
    with make_session(engine, write=True) as s:
        for suffix in ("a", "b"):
            name = f"{values['version']}{suffix}"
            shutil.copytree(directory, settings.model_dir / name)
            s.add(ModelVersion(**{**values, "version": name}))
            versions.append(name)
        s.commit()
        from classifier.registry import ModelRegistry

        ModelRegistry(settings.model_dir).promote(s, versions[0], actor="t", now=T0, active_labels=LABELS,
                                                  text_version=None)
        user = create_user(s, UserCreate(username="ops", display_name="ops", role=Role.admin), now=T0)
        _, key = issue_key(s, user, now=T0)
    engine.dispose()
    env = {**os.environ, "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_VAR_DIR": str(var), "ZHIKU_DATABASE_URL": db_url,
           "ZHIKU_MODEL_POLL_SECONDS": "0.5", "ZHIKU_LOG_JSON": "false"}
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            wait_healthy(url, proc)
        yield urls, {"Authorization": f"Bearer {key}"}, versions
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def test_promotion_reaches_the_other_process_without_failing_a_request(two_servers):
    (first, second), headers, (a, b) = two_servers
    draft = {"subject": "考勤打卡失败", "description": "员工打卡提示不在考勤范围内 E1024"}
    assert httpx.post(f"{second}/api/v1/classify", json=draft, headers=headers).json()["model_version"] == a
    statuses, versions, stop = [], [], threading.Event()

    def hammer():
        with httpx.Client(base_url=second, headers=headers, timeout=10) as client:
            for _ in range(2000):           # bounded
                if stop.is_set():
                    break
                r = client.post("/api/v1/classify", json=draft)
                statuses.append(r.status_code)
                versions.append(r.json().get("model_version"))

    t = threading.Thread(target=hammer)
    t.start()
    time.sleep(0.5)
    promoted_at = time.time()
    resp = httpx.post(f"{first}/api/v1/models/{b}/promote", json={}, headers=headers)
    assert resp.status_code == 200, resp.text
    seen_at = None
    while time.time() - promoted_at < 10:
        if httpx.get(f"{second}/health", headers=headers).json()["model"]["version"] == b:
            seen_at = time.time()
            break
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    t.join()
    assert seen_at is not None and seen_at - promoted_at < 5
    assert set(statuses) == {200}
    assert versions[0] == a and versions[-1] == b and set(versions) == {a, b}


def test_concurrent_case_creation_through_both_processes(two_servers):
    urls, headers, _ = two_servers

    def create(i: int) -> str:
        r = httpx.post(f"{urls[i % 2]}/api/v1/cases", json=case_payload(subject=f"并发 {i}"), headers=headers,
                       timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["number"]

    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(create, range(40)))
    assert len(set(numbers)) == 40


def test_concurrent_resolves_and_edits_through_both_processes_reach_the_index(two_servers):
    """Writes through both workers; one writer applies the outbox: nothing lost, latest text wins."""
    urls, headers, _ = two_servers
    resolution = {"solution_temp": "远程指导后恢复", "result": "已解决"}

    def lifecycle(i: int) -> str:
        with httpx.Client(base_url=urls[i % 2], headers=headers, timeout=30) as client:
            number = client.post("/api/v1/cases", json=case_payload(
                subject=f"并发索引 ZX{i:03d}A", tags=["并发"])).json()["number"]
            assert client.post(f"/api/v1/cases/{number}/resolve", json=resolution).status_code == 200
            other = httpx.Client(base_url=urls[(i + 1) % 2], headers=headers, timeout=30)
            assert other.patch(f"/api/v1/cases/{number}", json={"subject": f"并发索引 ZX{i:03d}B"}).status_code == 200
            other.close()
            return number

    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lifecycle, range(20)))
    deadline = time.time() + 20
    while time.time() < deadline:
        found = httpx.get(f"{urls[0]}/api/v1/search", params={"q": "并发索引", "page_size": 50},
                          headers=headers).json()
        if found["total"] == 20:
            break
        time.sleep(0.2)
    assert sorted(c["number"] for c in found["items"]) == sorted(numbers)
    for i in (0, 7, 19):                  # the edits made through the other worker arrive too
        while True:
            latest = httpx.get(f"{urls[1]}/api/v1/search", params={"q": f"zx{i:03d}b"}, headers=headers).json()
            stale = httpx.get(f"{urls[1]}/api/v1/search", params={"q": f"zx{i:03d}a"}, headers=headers).json()
            if (latest["total"], stale["total"]) == (1, 0) or time.time() > deadline:
                break
            time.sleep(0.2)
        assert (latest["total"], stale["total"]) == (1, 0)
