"""POST /api/v1/suggestions over HTTP on 127.0.0.1 against the running service with 100k
resolved cases, 1 and 2 worker processes, a bounded number of requests.

Arrange: a fresh database in a temporary directory gets 100k resolved cases built from real
public texts (bulk-inserted: the load test measures serving, not logging), the index is
rebuilt, the first model is bootstrapped; then ``python -m api serve --workers N`` runs and
an asyncio client keeps a fixed number of requests in flight.
Target with 2 workers: ≥ 150 req/s and p99 ≤ 50 ms.

    .venv/bin/python bench/suggest_load.py [--cases 100000] [--requests 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import numpy as np
from _common import ROOT, finish, read_tsv
from similar_latency import corpus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def arrange(var: Path, n_cases: int, texts: list[str], replies: list[str]) -> tuple[str, str]:
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
        rows.append(dict(number=f"FW{at:%Y%m%d}{i:06d}", contact_at=at, channel="电话", customer_name="客户",
                         customer_kind="individual", subject=text[:40], description=text, attachments=[],
                         type=rng.choice(types), priority=rng.choice(priorities), status="resolved",
                         received_at=at, sla_explanation={}, solution_temp=replies[i % len(replies)][:500],
                         result="已处理", resolved_at=at, tags=[], reopen_count=0, created_by="bench",
                         created_at=at, updated_at=at))
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
    return key, str(var)


async def load(url: str, key: str, drafts: list[dict], n: int, concurrency: int, max_seconds: float):
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        for d in drafts[:20]:                                   # warm-up
            await client.post("/api/v1/suggestions", json=d)
        queue = iter(range(n))
        deadline = time.monotonic() + max_seconds

        async def worker():
            nonlocal errors
            for i in queue:
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                r = await client.post("/api/v1/suggestions", json=drafts[i % len(drafts)])
                latencies.append(time.perf_counter() - t)
                errors += r.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=90)
    args = parser.parse_args()
    short, long = corpus()
    random.Random(1).shuffle(short)
    replies = list(read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv").reply)
    docs, held_out = short[2000:] + long, short[:2000]
    drafts = [{"subject": t[:20], "description": t} for t in held_out if len(t) >= 10]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        key, var = arrange(Path(tmp) / "var", args.cases, docs, replies)
        for workers in (1, 2):
            port = free_port()
            env = {**os.environ, "ZHIKU_VAR_DIR": var, "ZHIKU_PORT": str(port), "ZHIKU_LOAD_DEMO_DATA": "false",
                   "ZHIKU_LOG_JSON": "false"}
            proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--workers", str(workers)], cwd=ROOT,
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            try:
                for _ in range(600):
                    try:
                        h = httpx.get(f"{url}/health", timeout=2).json()
                        if h["status"] == "ok" and h["index"]["documents"]:
                            break
                    except (httpx.HTTPError, KeyError):
                        pass
                    time.sleep(0.5)
                lat, errors, elapsed = asyncio.run(load(url, key, drafts, args.requests, args.concurrency,
                                                        args.max_seconds))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            arr = np.asarray(lat) * 1000
            results.append({"workers": workers, "requests": len(lat), "errors": errors, "rps": len(lat) / elapsed,
                            "p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99))})
    print(f"{'workers':>7s} {'requests':>8s} {'errors':>6s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s}  "
          f"(concurrency {args.concurrency}, {args.cases} resolved cases)")
    for r in results:
        print(f"{r['workers']:7d} {r['requests']:8d} {r['errors']:6d} {r['rps']:7.1f} {r['p50']:7.1f} {r['p99']:7.1f}")
    two = results[-1]
    scale = two["rps"] / results[0]["rps"]
    finish(two["rps"] >= 150 and two["p99"] <= 50 and two["errors"] == 0,
           f"2 workers {two['rps']:.0f} req/s (≥150), p99 {two['p99']:.1f} ms (≤50), {scale:.2f}× the 1-worker "
           f"throughput, errors {two['errors']}")


if __name__ == "__main__":
    main()
