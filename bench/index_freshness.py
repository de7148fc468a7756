"""How soon a resolved case can be suggested: the lag from the resolve response to the first
search that finds it, through a real ``python -m api serve`` with its embedded index writer.

Texts are TipDM 2020 citizen messages, each made findable by a code of its own. Cases are
resolved one after another (quiet desk) and then by 8 clients at once (busy desk); every
resolve is followed by searches every 50 ms until the case appears (or 30 s, counted as a
timeout). Baseline, measured in the same run: one search round trip — the floor under any lag.

Target: p95 lag ≤ 2 s in both phases (the writer polls every ``ZHIKU_INDEX_POLL_SECONDS``,
0.5 s, and commits a generation), no errors, no timeouts.

    .venv/bin/python bench/index_freshness.py [--cases 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
from _common import ROOT, finish, read_tsv
from suggest_load import free_port, wait_ready

TIMEOUT = 30.0
RESOLUTION = {"analysis": "核实后确认", "root_cause": "其他", "solution_temp": "已转相关部门处理并回复",
              "result": "已处理"}


def texts(n: int) -> list[str]:
    frame = read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv")
    return [t.strip()[:300] for t in frame["detail"] if len(t.strip()) >= 20][:n]


def one(client: httpx.Client, text: str, code: str) -> tuple[float | None, int]:
    """Create, resolve, then search for the code until found: (lag s or None, errors)."""
    created = client.post("/api/v1/cases", json={
        "contact_at": "2026-11-20T09:15:00+08:00", "channel": "电话", "customer_name": "市民",
        "customer_kind": "个人客户", "subject": text[:30], "description": f"{text} 编号{code}",
        "type": "咨询", "priority": "中"})
    if created.status_code != 201:
        return None, 1
    resolved = client.post(f"/api/v1/cases/{created.json()['number']}/resolve", json=RESOLUTION)
    if resolved.status_code != 200:
        return None, 1
    start = time.monotonic()
    errors = 0
    while time.monotonic() - start < TIMEOUT:
        r = client.get("/api/v1/search", params={"q": code})
        if r.status_code != 200:
            errors += 1
        elif r.json()["total"]:
            return time.monotonic() - start, errors
        time.sleep(0.05)
    return None, errors


def phase(url: str, key: str, items: list[tuple[str, str]], clients: int) -> dict:
    def run(chunk):
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            return [one(client, text, code) for text, code in chunk]

    chunks = [items[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        results = [r for chunk in pool.map(run, chunks) for r in chunk]
    lags = sorted(lag for lag, _ in results if lag is not None)
    return {"clients": clients, "cases": len(items), "errors": sum(e for _, e in results),
            "timeouts": sum(1 for lag, _ in results if lag is None),
            "p50": statistics.median(lags) if lags else float("inf"),
            "p95": lags[min(len(lags) - 1, int(0.95 * len(lags)))] if lags else float("inf"),
            "max": lags[-1] if lags else float("inf")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=40, help="cases per phase")
    args = parser.parse_args()
    sources = texts(2 * args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        from kb.access import ensure_admin
        from kb.db import make_session
        from kb.settings import Settings
        from kb.setup import prepare_database

        engine = prepare_database(Settings(var_dir=var))
        with make_session(engine, write=True) as session:
            key = ensure_admin(session, now=datetime.now(UTC))
        engine.dispose()
        port = free_port()
        env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_PORT": str(port), "ZHIKU_LOG_JSON": "false"}
        log = open(Path(tmp) / "server.log", "w+")  # noqa: SIM115 — closed with the temp dir
        proc = subprocess.Popen([sys.executable, "-m", "api", "serve"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log, key)
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
                rtt = []
                for _ in range(30):
                    t = time.monotonic()
                    client.get("/api/v1/search", params={"q": "打印机"})
                    rtt.append(time.monotonic() - t)
            baseline = statistics.median(rtt)
            items = [(t, f"FRESH{i:05d}X") for i, t in enumerate(sources)]
            quiet = phase(url, key, items[:args.cases], 1)
            busy = phase(url, key, items[args.cases:], 8)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"machine: {os.cpu_count()} cores shared by client and server; baseline: one search round trip "
          f"{baseline * 1000:.1f} ms (median of 30)")
    print(f"{'clients':>7} {'cases':>5} {'errors':>6} {'timeouts':>8} {'p50 s':>6} {'p95 s':>6} {'max s':>6} "
          f"{'p95/baseline':>12}")
    for p in (quiet, busy):
        print(f"{p['clients']:>7} {p['cases']:>5} {p['errors']:>6} {p['timeouts']:>8} {p['p50']:>6.2f} "
              f"{p['p95']:>6.2f} {p['max']:>6.2f} {p['p95'] / baseline:>11.0f}×")
    ok = all(p["p95"] <= 2.0 and p["errors"] == 0 and p["timeouts"] == 0 for p in (quiet, busy))
    finish(ok, f"resolve → searchable p95 {quiet['p95']:.2f} s quiet, {busy['p95']:.2f} s with 8 clients (≤ 2 s); "
               f"errors {quiet['errors'] + busy['errors']}, timeouts {quiet['timeouts'] + busy['timeouts']}; "
               f"search round trip {baseline * 1000:.1f} ms")


if __name__ == "__main__":
    main()
