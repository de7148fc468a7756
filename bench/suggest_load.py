"""POST /api/v1/suggestions over HTTP on 127.0.0.1 against the running service with 100k
resolved cases, 1 and 2 worker processes, a bounded number of requests.

Arrange: a fresh database in a temporary directory gets 100k resolved cases built from real
public texts (bulk-inserted: the load test measures serving, not logging), the index is
rebuilt, the first model is bootstrapped; then ``python -m api serve --workers N`` runs and
an asyncio client measures it twice per worker count:

- throughput: a fixed number of requests kept in flight (closed loop) — the most it serves;
- latency: requests started on a fixed schedule of ``--rate`` per second (open loop), each
  timed from its scheduled start — what agents see when the desk sends that load.

A closed loop cannot show both at once: with 8 in flight, 150 req/s means a mean latency of
8/150 s = 53 ms by Little's law whatever the server does.
Target with 2 workers: ≥ 150 req/s at most, and p99 ≤ 50 ms while 150 req/s are offered.

    .venv/bin/python bench/suggest_load.py [--cases 100000] [--requests 3000] [--rate 150] [--var DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx2 as httpx
import numpy as np
from _common import ROOT, finish, read_tsv
from similar_latency import corpus

WARM_UP = 300          # requests per run before measuring


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def arrange(var: Path, n_cases: int, texts: list[str], replies: list[str]) -> str:
    from sqlalchemy import insert

    from classifier.bootstrap import bootstrap
    from classifier.registry import ModelRegistry
    from indexer.rebuild import rebuild
    from indexer.whoosh_index import WhooshIndex
    from kb.access import ensure_admin
    from kb.db import make_session
    from kb.dictionary import install_segmenter_from_db
    from kb.models import Case
    from kb.settings import Settings
    from kb.setup import prepare_database

    settings = Settings(var_dir=var)
    engine = prepare_database(settings)
    segmenter = install_segmenter_from_db(engine, settings.jieba_cache_dir)
    rng = random.Random(0)
    now = datetime.now(UTC)
    types, priorities = ["咨询", "投诉", "建议", "变更", "其他"], ["高", "中", "低"]
    rows = []
    for i in range(n_cases):
        text = texts[i % len(texts)]
        at = now - timedelta(minutes=n_cases - i)
        rows.append({"number": f"FW{at:%Y%m%d}{i:06d}", "contact_at": at, "channel": "电话",
                     "customer_name": "客户", "customer_kind": "individual", "subject": text[:40],
                     "description": text, "attachments": [], "type": rng.choice(types),
                     "priority": rng.choice(priorities), "status": "resolved", "received_at": at,
                     "sla_explanation": {}, "solution_temp": replies[i % len(replies)][:500], "result": "已处理",
                     "resolved_at": at, "tags": [], "reopen_count": 0, "created_by": "bench",
                     "created_at": at, "updated_at": at})
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Case), rows[start:start + 5000])
    t = time.perf_counter()
    rebuild(engine, WhooshIndex(settings.index_dir, settings.jieba_cache_dir), segmenter.snapshot)
    print(f"arranged {n_cases} resolved cases; index rebuilt in {time.perf_counter() - t:.0f} s", flush=True)
    bootstrap(engine, ModelRegistry(settings.model_dir), segmenter, settings.data_dir / "demo" / "cases.jsonl")
    with make_session(engine, write=True) as session:
        key = ensure_admin(session, now=now)
    engine.dispose()
    return key


def wait_ready(url: str, proc: subprocess.Popen, log, key: str, seconds: float = 300) -> None:
    """Wait until /health reports the index (its details need an admin key); fail loudly with
    the server's output otherwise."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            last = httpx.get(f"{url}/health", headers={"X-API-Key": key}, timeout=2).json()
            if last.get("index", {}).get("documents"):
                return
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    log.seek(0)
    sys.exit(f"server not ready (exit code {proc.poll()}, last health {last}):\n{log.read()[-4000:]}")


async def _warm(session, url: str, drafts: list[dict], in_flight: int) -> None:
    """Bring every worker to steady state first (postings decoded, field lengths read): a burst
    over many connections reaches all of them, a sequential warm-up only the first."""
    sem = asyncio.Semaphore(in_flight)

    async def one(d):
        async with sem, session.post(f"{url}/api/v1/suggestions", json=d) as r:
            await r.read()

    await asyncio.gather(*(one(drafts[-1 - i % len(drafts)]) for i in range(WARM_UP)))


def _client(key: str, connections: int):
    # aiohttp, not httpx: the client shares the cores with the server, and aiohttp costs
    # about a third of httpx's CPU per request
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"},
                                 connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def load(url: str, key: str, drafts: list[dict], n: int, concurrency: int, max_seconds: float):
    """Closed loop: ``concurrency`` requests always in flight."""
    latencies: list[float] = []
    errors = 0
    async with _client(key, concurrency) as session:
        await _warm(session, url, drafts, concurrency)
        queue = iter(range(n))
        deadline = time.monotonic() + max_seconds

        async def worker():
            nonlocal errors
            for i in queue:
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                async with session.post(f"{url}/api/v1/suggestions", json=drafts[i % len(drafts)]) as r:
                    await r.read()
                    errors += r.status != 200
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


async def paced(url: str, key: str, drafts: list[dict], n: int, rate: float, max_seconds: float):
    """Open loop: requests start on a fixed schedule of ``rate`` per second whatever the latency,
    as agents' browsers would send them; a request's latency counts from its scheduled start, so
    queueing behind a slow server is measured instead of hidden (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    async with _client(key, 64) as session:
        await _warm(session, url, drafts, 16)

        async def one(i: int, scheduled: float):
            nonlocal errors
            async with session.post(f"{url}/api/v1/suggestions", json=drafts[i % len(drafts)]) as r:
                await r.read()
                errors += r.status != 200
            latencies.append(time.perf_counter() - scheduled)

        start = time.perf_counter()
        tasks = []
        for i in range(min(n, int(rate * max_seconds))):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def measured(run) -> tuple[list[float], int, float, float]:
    """Run a load coroutine; also return the client's own CPU seconds (it shares the cores)."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    lat, errors, elapsed = asyncio.run(run)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return lat, errors, elapsed, cpu


def summary(workers: int, mode: str, lat: list[float], errors: int, elapsed: float, client_cpu: float) -> dict:
    arr = np.asarray(lat) * 1000
    return {"workers": workers, "mode": mode, "requests": len(lat), "errors": errors, "rps": len(lat) / elapsed,
            "p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99)),
            "client_cpu": client_cpu / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight for the throughput run")
    parser.add_argument("--rate", type=float, default=150, help="offered req/s for the latency run")
    parser.add_argument("--max-seconds", type=float, default=90)
    parser.add_argument("--var", type=Path, help="arrange here once and reuse it on later runs (default: a temp dir)")
    args = parser.parse_args()
    short, long = corpus()
    random.Random(1).shuffle(short)
    replies = list(read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv").reply)
    docs, held_out = short[2000:] + long, short[:2000]
    drafts = [{"subject": t[:20], "description": t} for t in held_out if len(t) >= 10]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        var = args.var or Path(tmp) / "var"
        key_file = var / "bench-admin-key"
        if key_file.exists():
            key = key_file.read_text()
        else:
            key = arrange(var, args.cases, docs, replies)
            key_file.write_text(key)
        for workers in (1, 2):
            port = free_port()
            env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_PORT": str(port), "ZHIKU_LOAD_DEMO_DATA": "false",
                   "ZHIKU_LOG_JSON": "false"}
            log = open(Path(tmp) / f"server-{workers}.log", "w+")  # noqa: SIM115 — closed with the temp dir
            proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--workers", str(workers)], cwd=ROOT,
                                    env=env, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_ready(url, proc, log, key)
                results.append(summary(workers, f"closed, {args.concurrency} in flight", *measured(
                    load(url, key, drafts, args.requests, args.concurrency, args.max_seconds))))
                results.append(summary(workers, f"open, {args.rate:g} req/s offered", *measured(
                    paced(url, key, drafts, args.requests, args.rate, args.max_seconds))))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print(f"{args.cases} resolved cases; client and server share this machine's {os.cpu_count()} cores")
    print(f"{'workers':>7s}  {'load':28s} {'requests':>8s} {'errors':>6s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s}"
          f" {'client cores':>12s}")
    for r in results:
        print(f"{r['workers']:7d}  {r['mode']:28s} {r['requests']:8d} {r['errors']:6d} {r['rps']:7.1f} "
              f"{r['p50']:7.1f} {r['p99']:7.1f} {r['client_cpu']:12.2f}")
    one_max, two_max, two_open = results[0], results[2], results[3]
    scale = two_max["rps"] / one_max["rps"]
    errors = sum(r["errors"] for r in results)
    finish(two_max["rps"] >= 150 and two_open["rps"] >= 0.97 * args.rate and two_open["p99"] <= 50 and errors == 0,
           f"2 workers: {two_max['rps']:.0f} req/s at most (≥150, {scale:.2f}× one worker); at {args.rate:g} req/s "
           f"offered p50 {two_open['p50']:.1f} ms, p99 {two_open['p99']:.1f} ms (≤50); errors {errors}")


if __name__ == "__main__":
    main()
