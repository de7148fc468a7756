"""Agents saving cases while others get suggestions, and the same during a large import.

Arranged like ``bench/suggest_load.py`` (N resolved cases from the public corpora, index
rebuilt, first model bootstrapped), then ``python -m api serve --workers 2``. Open loop (every
request starts on its schedule, latency counted from the schedule: no coordinated omission):
20 case creations/s mixed with 100 suggestions/s for ``--seconds``. Then the same again while
one client imports a 20,000-row 需求记录表 (TipDM messages, as in ``bench/import_speed.py``).
Baseline: the first run (no import) is the baseline of the second, measured in the same run.

Targets: creation p99 ≤ 250 ms and suggestion p99 ≤ 100 ms without the import; during the
import both p99 within ×1.5 of that; 0 errors; rows lost 0 (cases in the database = before +
creations answered 201 + rows the import reported).

    .venv/bin/python bench/write_load.py [--cases 100000] [--seconds 30] [--database-url URL]
        [--var DIR] [--timeline]

``--var DIR`` arranges the cases there once and runs on a fresh copy of it each time (SQLite
only). ``--timeline`` prints each second of both phases: the requests scheduled in it and the
CPU share of every process (web workers, background, database server, client).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import httpx2 as httpx
import numpy as np
from _common import ROOT, finish, read_tsv
from _timeline import CpuTimeline, phase_summary, print_timeline
from import_speed import build_rows, to_csv
from similar_latency import corpus
from suggest_load import arrange, arranged, free_port, vectors_ready, wait_ready

CREATE_RATE, SUGGEST_RATE = 20, 100


def case_body(i: int, text: str) -> dict:
    return {"contact_at": "2026-11-20T09:15:00+08:00", "channel": "电话", "customer_name": f"压测客户{i}",
            "customer_kind": "个人客户", "subject": text[:30] or "咨询", "description": text[:500] or "咨询",
            "type": "咨询", "priority": "中"}


async def mixed(url: str, key: str, drafts: list[dict], texts: list[str], seconds: float, tag: str,
                rates: tuple[float, float] = (CREATE_RATE, SUGGEST_RATE)) -> dict:
    """Creations and suggestions on their own schedules; latency from the scheduled start."""
    out = {"create_errors": 0, "suggest_errors": 0, "created": 0, "numbers": [],
           "started": []}      # (seconds into the phase it was scheduled at, kind, ms, answered well)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=128)) as session:
        async def one(kind: str, i: int, scheduled: float):
            try:
                if kind == "create":
                    async with session.post(f"{url}/api/v1/cases", json=case_body(i, texts[i % len(texts)]),
                                            headers={"Idempotency-Key": f"{tag}-{i}"}) as r:
                        body = await r.json(content_type=None) if r.status == 201 else None
                        ok = r.status == 201
                        out["created"] += ok
                        if ok:
                            out["numbers"].append(body["number"])
                else:
                    async with session.post(f"{url}/api/v1/suggestions", json=drafts[i % len(drafts)]) as r:
                        await r.read()
                        ok = r.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            out["started"].append((scheduled - start, kind, (time.perf_counter() - scheduled) * 1000, ok))
            if not ok:
                out[f"{kind}_errors"] += 1

        start = out["start"] = time.perf_counter()
        plan = sorted([(i / rates[0], "create", i) for i in range(int(rates[0] * seconds))]
                      + [(i / rates[1], "suggest", i) for i in range(int(rates[1] * seconds))])
        tasks = []
        for at, kind, i in plan:
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(kind, i, start + at)))
        await asyncio.gather(*tasks)
    return out


def latencies(run: dict, kind: str) -> list[float]:
    """Milliseconds of every request of ``kind`` in a phase, from the scheduled start."""
    return [ms for _at, each, ms, _ok in run["started"] if each == kind]


def pcts(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) if samples else np.asarray([float("nan")])
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def missing(url: str, key: str, numbers: list[str]) -> int:
    """Creations answered 201 whose case the service cannot find afterwards: lost rows."""
    from concurrent.futures import ThreadPoolExecutor

    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as client, ThreadPoolExecutor(8) as pool:
        return sum(pool.map(lambda n: client.get(f"{url}/api/v1/cases/{n}").status_code != 200, numbers))


def case_total(url: str, key: str) -> int:
    return httpx.get(f"{url}/api/v1/cases", params={"page_size": 1}, headers={"Authorization": f"Bearer {key}"},
                     timeout=60).json()["total"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in the temp var dir)")
    parser.add_argument("--create-rate", type=float, default=CREATE_RATE)
    parser.add_argument("--suggest-rate", type=float, default=SUGGEST_RATE,
                        help="lower it to see the import's effect at a load the machine sustains")
    parser.add_argument("--var", type=Path, help="arrange here once; each run works on a fresh copy (SQLite)")
    parser.add_argument("--timeline", action="store_true",
                        help="print each second: latency and CPU per process")
    args = parser.parse_args()
    if args.var and args.database_url:
        parser.error("--var keeps a SQLite var dir; with --database-url each run arranges afresh")
    rates = (args.create_rate, args.suggest_rate)
    short, long = corpus()
    random.Random(1).shuffle(short)
    replies = list(read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv").reply)
    drafts = [{"subject": t[:20], "description": t} for t in short[:2000] if len(t) >= 10]
    texts = short[2000:4000]
    sheet = to_csv(build_rows(args.import_rows))
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_LOAD_DEMO_DATA": "false", "ZHIKU_LOG_JSON": "false"}
        if args.database_url:
            env["ZHIKU_DATABASE_URL"] = os.environ["ZHIKU_DATABASE_URL"] = args.database_url
        if args.var:
            key = arranged(args.var, args.cases, short[4000:] + long)
            shutil.copytree(args.var, var)
        else:
            key = arrange(var, args.cases, short[4000:] + long, replies)
            vectors_ready(var)
        port = free_port()
        env["ZHIKU_PORT"] = str(port)
        log = open(Path(tmp) / "server.log", "w+")  # noqa: SIM115 — closed with the temp dir
        proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--workers", "2"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log, key)
            asyncio.run(mixed(url, key, drafts, texts, 5, "warm", rates))            # both workers warm
            cpu = CpuTimeline(proc.pid, port)
            cpu.start(time.perf_counter())
            before = case_total(url, key)
            quiet = asyncio.run(mixed(url, key, drafts, texts, args.seconds, "quiet", rates))
            report: dict = {}

            def importer():
                t = time.perf_counter()
                r = httpx.post(f"{url}/api/v1/cases/import", headers={"Authorization": f"Bearer {key}"},
                               files={"file": ("需求记录表.csv", sheet, "text/csv")}, timeout=600)
                report.update(r.json() if r.status_code == 200 else {"error": r.status_code, "imported": 0})
                report["seconds"] = time.perf_counter() - t

            thread = threading.Thread(target=importer)
            thread.start()
            busy = asyncio.run(mixed(url, key, drafts, texts, args.seconds, "busy", rates))
            in_window = case_total(url, key) - before - quiet["created"] - busy["created"]
            thread.join()
            cpu.stop()
            after = case_total(url, key)
            lost_created = missing(url, key, quiet["numbers"] + busy["numbers"])
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    expected = before + quiet["created"] + busy["created"] + report.get("imported", 0)
    # lost: an answered creation not found, or fewer rows than answered in all; more rows than
    # answered are creations the client gave up on (timeout) that the service still stored
    lost = lost_created + max(0, expected - after)
    stored_after_timeout = max(0, after - expected)
    print(f"{args.cases} resolved cases, {backend}, 2 workers, {os.cpu_count()} cores shared with the client; "
          f"offered {rates[0]:g} creations/s + {rates[1]:g} suggestions/s for {args.seconds:g} s")
    print(f"{'run':28s} {'kind':8s} {'requests':>8s} {'errors':>6s} {'p50 ms':>8s} {'p99 ms':>8s}")
    rows = {}
    for name, run in (("baseline (no import)", quiet), (f"during a {args.import_rows}-row import", busy)):
        for kind in ("create", "suggest"):
            took = latencies(run, kind)
            p50, p99 = pcts(took)
            rows[(name, kind)] = p99
            print(f"{name:28s} {kind:8s} {len(took):8d} {run[f'{kind}_errors']:6d} {p50:8.1f} {p99:8.1f}")
    print(f"import: {in_window} rows stored during the {args.seconds:g} s window, "
          f"paused {report.get('paused_seconds', 0):g} s between chunks (ZHIKU_IMPORT_PAUSE_WHEN_BUSY); "
          f"{report.get('imported', 0)} rows in {report.get('seconds', 0):.1f} s "
          f"({report.get('error', 'ok')}); cases before {before}, after {after}, answered {expected}: lost {lost}, "
          f"stored after the client's timeout {stored_after_timeout}")
    # the machine's state in each phase
    for title, run in (("baseline", quiet), ("during the import", busy)):
        print(phase_summary(title, run["started"], cpu, run["start"] - cpu.t0, args.seconds))
    if args.timeline:
        for title, run in (("baseline", quiet), ("during the import", busy)):
            print_timeline(title, run["started"], cpu, run["start"] - cpu.t0, args.seconds)
    base_c, base_s = rows[("baseline (no import)", "create")], rows[("baseline (no import)", "suggest")]
    busy_c = rows[(f"during a {args.import_rows}-row import", "create")]
    busy_s = rows[(f"during a {args.import_rows}-row import", "suggest")]
    errors = sum(r[f"{k}_errors"] for r in (quiet, busy) for k in ("create", "suggest"))
    at_target_load = rates == (CREATE_RATE, SUGGEST_RATE)      # lower rates show the import's effect only
    ok = at_target_load and (base_c <= 250 and base_s <= 100 and busy_c <= 1.5 * base_c and busy_s <= 1.5 * base_s
          and errors == 0 and lost == 0 and report.get("imported", 0) > 0)
    finish(ok, ("" if at_target_load else f"(offered {rates[0]:g}+{rates[1]:g}/s, below the targets' "
                                          f"{CREATE_RATE}+{SUGGEST_RATE}/s) ") + f"{backend}: creation p99 {base_c:.0f} ms → {busy_c:.0f} ms during the import (×{busy_c / base_c:.2f}), "
               f"suggestion p99 {base_s:.0f} → {busy_s:.0f} ms (×{busy_s / base_s:.2f}); errors {errors}, lost {lost}")


if __name__ == "__main__":
    main()
