"""The whole API under Schemathesis, on a real server (uvicorn, SQLite or PostgreSQL, demo data,
the bootstrapped model, the index writer), with every check and a fixed seed.

Gate: the run ends without a failure — no server error, no response outside the documented
statuses, content types or schemas, no schema-violating request accepted, no schema-valid
request refused by the shape checks (``tests/fuzz/checks.py``). The stateful phase follows the
links Schemathesis infers (create a case → read, patch, resolve it …); it cannot lock itself
out, because the API refuses to revoke the key in use and to demote the last admin."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import DATA_DIR, POSTGRES_URL, fresh_postgres_database
from tests.e2e.test_two_workers import free_port, wait_healthy

pytestmark = pytest.mark.slow
SEED = 20261203
# positive_data_acceptance is replaced by tests/fuzz/checks.py (a domain rule refusing a value is
# the API being right); every other check runs.
OPEN_CHECKS = "positive_data_acceptance"
MAX_EXAMPLES = int(os.environ.get("ZHIKU_FUZZ_EXAMPLES", "25"))



def _summary(report: Path) -> dict:
    """Counts from Schemathesis' NDJSON events: requests sent, statuses seen, failures by check."""
    statuses: dict[str, int] = {}
    failures: dict[str, int] = {}
    for line in report.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        for name, data in event.items():
            if name == "ScenarioFinished":
                recorder = data.get("recorder", {})
                for interaction in recorder.get("interactions", {}).values():
                    response = (interaction or {}).get("response") or {}
                    code = str(response.get("status_code", "none"))
                    statuses[code] = statuses.get(code, 0) + 1
                for check_list in recorder.get("checks", {}).values():
                    for check in check_list:
                        if check.get("status") == "FAILURE":
                            failures[check["name"]] = failures.get(check["name"], 0) + 1
    return {"requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items())), "failures": failures}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_schemathesis_finds_nothing(backend, tmp_path, worker_id):
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    port = free_port()
    env = {**os.environ, "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_VAR_DIR": str(tmp_path / "var"),
           "ZHIKU_PORT": str(port), "ZHIKU_HOST": "127.0.0.1", "ZHIKU_LOG_JSON": "true",
           # the fuzzer sends hundreds of bad keys on purpose; the throttle has tests of its own
           "ZHIKU_AUTH_FAILURES_PER_MINUTE": "1000000"}
    if backend == "postgres":
        env["ZHIKU_DATABASE_URL"] = fresh_postgres_database(f"zhiku_fuzz_{worker_id}")
    created = subprocess.run([sys.executable, "-m", "api", "create-admin", "--username", "fuzzer"], cwd=PROJECT_ROOT,
                             env=env, capture_output=True, text=True, timeout=300, check=True)
    key = re.search(r"zk_[0-9a-f]{8}_[A-Za-z0-9_\-]+", created.stdout).group(0)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "api", "serve"], cwd=PROJECT_ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    report = tmp_path / "events.ndjson"
    try:
        wait_healthy(url, server, timeout=180)
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
             "-H", f"Authorization: Bearer {key}", "--checks", "all", "--exclude-checks", OPEN_CHECKS,
             "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
             "--phases", "examples,coverage,fuzzing,stateful", "--continue-on-failure", "--no-shrink",
             "--request-timeout", "30", "--suppress-health-check", "all", "--generation-database", "none",
             "--report", "ndjson", "--report-ndjson-path", str(report), "--no-color"],
            cwd=PROJECT_ROOT, env={**env, "SCHEMATHESIS_HOOKS": "tests.fuzz.checks"},
            capture_output=True, text=True, timeout=1200)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    summary = _summary(report) if report.exists() else {}
    print(f"schemathesis on {backend}: {json.dumps(summary, ensure_ascii=False)}")
    tail = run.stdout[-12000:]
    server_errors = (tmp_path / "server.log").read_text(encoding="utf-8").count('"unhandled error"')
    assert run.returncode == 0 and server_errors == 0, f"{tail}\n{run.stderr[-3000:]}\nserver errors logged: {server_errors}"
    assert summary.get("requests", 0) > 1000 and "200" in summary["statuses"] and "201" in summary["statuses"]
