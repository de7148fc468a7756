"""The database-down drill on a real PostgreSQL server of its own: stop it under a serving app,
every database-backed request answers 503 problem+json with Retry-After (liveness stays 200),
start it again and the service resumes by itself with nothing lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kb.models import Role
from kb.settings import PROJECT_ROOT, Settings
from tests.conftest import DATA_DIR, add_user, case_payload

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SCRIPT = PROJECT_ROOT / "scripts" / "pg-throwaway.sh"


def pg(command: str, directory) -> str:
    out = subprocess.run(["bash", str(SCRIPT), command, str(directory)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def own_server():
    if not os.environ.get("ZHIKU_TEST_POSTGRES_URL"):
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    # not under pytest's tmp_path: its parents are private to root, and the server runs as postgres
    directory = Path(tempfile.mkdtemp(prefix="zhiku-drill-"))
    directory.chmod(0o755)
    try:
        url = pg("start", directory / "pg")
        yield url, directory / "pg"
    finally:
        pg("stop", directory / "pg")
        shutil.rmtree(directory, ignore_errors=True)


def test_stopping_postgresql_gives_503s_and_the_service_resumes_by_itself(own_server, tmp_path):
    url, directory = own_server
    # cache_seconds=0: a key seen within the last second is otherwise answered from the worker's
    # memory (kb/recent.py), so /me would stay 200 for that second; this drill is about the database
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=url, embedded_indexer=False,
                        cache_seconds=0)
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {add_user(client.app.state.engine, 'lead', Role.admin)}"}
        created = client.post("/api/v1/cases", headers=headers, json=case_payload())
        assert created.status_code == 201

        pg("pause", directory)
        try:
            for method, path, body in (("GET", "/api/v1/cases", None), ("GET", "/api/v1/me", None),
                                       ("POST", "/api/v1/cases", case_payload(subject="停库期间登记")),
                                       ("GET", f"/api/v1/cases/{created.json()['number']}", None)):
                resp = client.request(method, path, headers=headers, json=body)
                assert resp.status_code == 503, (path, resp.status_code, resp.text)
                assert resp.headers["retry-after"] and resp.headers["content-type"].startswith("application/problem+json")
            assert client.get("/health").status_code == 503
            assert client.get("/health/live").status_code == 200
        finally:
            pg("resume", directory)

        deadline = time.monotonic() + 30
        while client.get("/api/v1/cases", headers=headers).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        listed = client.get("/api/v1/cases", headers=headers)
        assert listed.status_code == 200 and listed.json()["total"] == 1      # the case before; none half-stored
        assert client.post("/api/v1/cases", headers=headers, json=case_payload()).status_code == 201
        assert client.get("/health").status_code in (200, 503)                 # answers again (no model here)
