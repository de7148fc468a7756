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

Same-run baselines (machines differ by 2× and are noisy):
- ``--baseline REV``: the same load on a checkout of REV (the landed commit) in a temp dir,
  against the same database and index;
- the framework's ceiling: ``bench/fixed_json_app.py`` (parse the draft, answer a fixed body
  of a real suggestion's size) through the same ``api.serve``, workers and client.
Also reported: each web worker's CPU share and RSS, the client's CPU. Timeouts and connection
errors are counted as errors. Targets (2 workers): ≥ 150 req/s at most and p99 ≤ 50 ms at
150 req/s offered; ≥ 2× the baseline commit; 2 workers ≥ 1.8× one; 0 errors; RSS ≤ 1 GB.

    .venv/bin/python bench/suggest_load.py [--cases 100000] [--requests 3000] [--rate 150] [--var DIR]
        [--baseline 3c596a9 [--baseline-var DIR]]
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
import psutil
import httpx2 as httpx
import numpy as np
from _common import ROOT, finish, read_tsv
from similar_latency import combined, corpus

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

    def row(i: int) -> dict:
        text = texts[i % len(texts)]
        at = now - timedelta(minutes=n_cases - i)
        return {"number": f"FW{at:%Y%m%d}{i:07d}", "contact_at": at, "channel": "电话",
                "customer_name": "客户", "customer_kind": "individual", "subject": text[:40],
                "description": text, "attachments": [], "type": rng.choice(types),
                "priority": rng.choice(priorities), "status": "resolved", "received_at": at,
                "sla_explanation": {}, "solution_temp": replies[i % len(replies)][:500], "result": "已处理",
                "resolved_at": at, "tags": [], "reopen_count": 0, "created_by": "bench",
                "created_at": at, "updated_at": at}

    with engine.begin() as conn:            # in chunks: 1M rows as dicts at once would take GBs
        for start in range(0, n_cases, 5000):
            conn.execute(insert(Case), [row(i) for i in range(start, min(start + 5000, n_cases))])
    t = time.perf_counter()
    rebuild(engine, WhooshIndex(settings.index_dir, settings.jieba_cache_dir), segmenter.snapshot)
    print(f"arranged {n_cases} resolved cases; index rebuilt in {time.perf_counter() - t:.0f} s", flush=True)
    bootstrap(engine, ModelRegistry(settings.model_dir), segmenter, settings.data_dir / "demo" / "cases.jsonl")
    with make_session(engine, write=True) as session:
        key = ensure_admin(session, now=now)
    if engine.dialect.name == "postgresql":
        # what an operator does after a bulk load (PostgreSQL's "Populating a Database"): without
        # it the first minutes of a run measured autovacuum and hint-bit writes over the rows
        # just loaded — suggestion p50 771 ms, then 23 ms on the same database a minute later
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql('VACUUM (ANALYZE) "case"')
    engine.dispose()
    return key


def arranged(var: Path, n_cases: int, texts: list[str]) -> str:
    """The admin key of ``var``, arranging ``n_cases`` resolved cases there first unless an earlier
    run did (``--var`` reuses a var dir across runs and scripts)."""
    key_file = var / "bench-admin-key"
    if key_file.exists():
        key = key_file.read_text()
    else:
        replies = list(read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv").reply)
        key = arrange(var, n_cases, texts, replies)
        key_file.write_text(key)
    vectors_ready(var)
    return key


def vectors_ready(var: Path) -> None:
    """The node's semantic vector store as a node that has run a while has it (its background
    process writes it; api.vector_keeper): written here, before any timed run, when missing or
    behind the database, however little (no lag allowed here: timed runs start from a store in step)."""
    from api.vector_keeper import vector_keeper
    from kb.db import make_engine
    from kb.dictionary import install_segmenter_from_db
    from kb.settings import Settings

    settings = Settings(var_dir=var, vector_max_lag_seconds=0)
    engine = make_engine(settings.database_url, settings=settings)
    install_segmenter_from_db(engine, settings.jieba_cache_dir)
    t = time.perf_counter()
    embedded = vector_keeper(engine, settings).step()
    if embedded:
        print(f"vector store: {embedded} cases embedded in {time.perf_counter() - t:.1f} s", flush=True)
    engine.dispose()


def wait_ready(url: str, proc: subprocess.Popen, log, key: str, seconds: float = 300, plain: bool = False) -> None:
    """Wait until /health reports the index (its details need an admin key), or for the plain
    app until it answers; fail loudly with the server's output otherwise."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if plain:
                if httpx.post(f"{url}/api/v1/suggestions", json={}, timeout=2).status_code == 200:
                    return
                time.sleep(0.5)
                continue
            last = httpx.get(f"{url}/health", headers={"X-API-Key": key}, timeout=2).json()
            if last.get("index", {}).get("documents"):
                return
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    log.seek(0)
    sys.exit(f"server not ready (exit code {proc.poll()}, last health {last}):\n{log.read()[-4000:]}")


FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


async def _post(session, url: str, draft: dict) -> bool:
    """One suggestion; False on a non-200 answer, a timeout or a broken connection."""
    try:
        async with session.post(f"{url}/api/v1/suggestions", json=draft) as r:
            await r.read()
            return r.status == 200
    except FAILURES:
        return False


async def _warm(session, url: str, drafts: list[dict], in_flight: int) -> None:
    """Bring every worker to steady state first (postings decoded, field lengths read): a burst
    over many connections reaches all of them, a sequential warm-up only the first."""
    sem = asyncio.Semaphore(in_flight)

    async def one(d):
        async with sem:
            await _post(session, url, d)

    await asyncio.gather(*(one(drafts[-1 - i % len(drafts)]) for i in range(WARM_UP)))


def _client(key: str, connections: int):
    # aiohttp, not httpx: the client shares the cores with the server, and aiohttp costs
    # about a third of httpx's CPU per request
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"},
                                 connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=10))


class Meter:
    """CPU seconds of the client and of each web worker over the measured phase only."""

    def __init__(self, workers: list[psutil.Process]) -> None:
        self.workers = workers

    def __enter__(self):
        self.t = time.perf_counter()
        self.client = self._client_cpu()
        self.before = [self._cpu(p) for p in self.workers]
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.t
        self.client_cores = (self._client_cpu() - self.client) / self.elapsed
        self.worker_cores = [(self._cpu(p) - b) / self.elapsed for p, b in zip(self.workers, self.before)]

    @staticmethod
    def _client_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    @staticmethod
    def _cpu(p: psutil.Process) -> float:
        t = p.cpu_times()
        return t.user + t.system


async def load(url: str, key: str, drafts: list[dict], n: int, concurrency: int, max_seconds: float, meter: Meter):
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
                ok = await _post(session, url, drafts[i % len(drafts)])
                errors += not ok
                if ok:
                    latencies.append(time.perf_counter() - t)

        with meter:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, meter


async def paced(url: str, key: str, drafts: list[dict], n: int, rate: float, max_seconds: float, meter: Meter):
    """Open loop: requests start on a fixed schedule of ``rate`` per second whatever the latency,
    as agents' browsers would send them; a request's latency counts from its scheduled start, so
    queueing behind a slow server is measured instead of hidden (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    async with _client(key, 256) as session:
        await _warm(session, url, drafts, 16)

        async def one(i: int, scheduled: float):
            nonlocal errors
            ok = await _post(session, url, drafts[i % len(drafts)])
            errors += not ok
            if ok:
                latencies.append(time.perf_counter() - scheduled)

        with meter:
            start = time.perf_counter()
            tasks = []
            for i in range(min(n, int(rate * max_seconds))):
                scheduled = start + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, scheduled)))
            await asyncio.gather(*tasks)
    return latencies, errors, meter


def summary(label: str, workers: int, mode: str, result, rss: list[int]) -> dict:
    lat, errors, meter = result
    arr = np.asarray(lat or [float("nan")]) * 1000
    total = sum(meter.worker_cores) or 1.0
    return {"label": label, "workers": workers, "mode": mode, "requests": len(lat), "errors": errors,
            "rps": len(lat) / meter.elapsed, "p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99)),
            "client": meter.client_cores, "worker_cores": meter.worker_cores,
            "shares": [c / total for c in meter.worker_cores], "rss": rss}


def web_workers(proc: subprocess.Popen, port: int) -> list[psutil.Process]:
    """The server's processes listening on ``port`` (not the background process)."""
    out = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in child.net_connections("tcp")):
                out.append(child)
        except psutil.Error:
            continue
    return out


def checkout(rev: str, into: Path) -> Path:
    """REV's tree (git archive, no .git) in ``into``."""
    tree = into / f"baseline-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def serve_command(workers: int, port: int, *, tree: Path, app: str | None = None) -> list[str]:
    if app is None:
        return [sys.executable, "-m", "api", "serve", "--workers", str(workers)]
    return [sys.executable, "-c", f"import sys; sys.path[:0] = [{str(tree)!r}, {str(ROOT / 'bench')!r}]; "
            f"from api.serve import serve; serve('127.0.0.1', {port}, workers={workers}, app={app!r})"]


def run_server(label, tree, var, workers, port, tmp, key, drafts, args, modes, app=None, env_extra=None):
    env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_PORT": str(port), "ZHIKU_LOAD_DEMO_DATA": "false",
           "ZHIKU_LOG_JSON": "false", "PYTHONPATH": str(tree), **(env_extra or {})}
    log = open(Path(tmp) / f"server-{label}-{workers}.log", "w+")  # noqa: SIM115 — closed with the temp dir
    proc = subprocess.Popen(serve_command(workers, port, tree=tree, app=app), cwd=tree, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    results = []
    try:
        wait_ready(url, proc, log, key, plain=app is not None)
        # every worker must listen before the client connects: keep-alive connections made while
        # only the first one listens all stay on it (seen: a "2 worker" run served by one)
        deadline = time.monotonic() + 120
        while len(procs := web_workers(proc, port)) < workers and time.monotonic() < deadline:
            time.sleep(0.5)
        if len(procs) < workers:
            sys.exit(f"only {len(procs)} of {workers} workers listen on {port}")
        time.sleep(3)                       # the last one finishes its start-up (model, searcher)
        for mode in modes:
            if mode == "closed":
                run = load(url, key, drafts, args.requests, args.concurrency, args.max_seconds, Meter(procs))
                name = f"closed, {args.concurrency} in flight"
            else:
                run = paced(url, key, drafts, args.requests, args.rate, args.max_seconds, Meter(procs))
                name = f"open, {args.rate:g} req/s offered"
            result = asyncio.run(run)
            rss = [p.memory_info().rss for p in procs]
            results.append(summary(label, workers, name, result, rss))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight for the throughput run")
    parser.add_argument("--rate", type=float, default=150, help="offered req/s for the latency run")
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--var", type=Path, help="arrange here once and reuse it on later runs (default: a temp dir)")
    parser.add_argument("--baseline", help="git revision measured the same way in the same run (the landed commit)")
    parser.add_argument("--baseline-var", type=Path,
                        help="the baseline's var dir, when it cannot open --var (its migrations stop earlier): a "
                        "copy of --var whose database is stamped to the baseline's last migration — only where "
                        "the later ones add indexes alone (0012 does)")
    args = parser.parse_args()
    short, long = corpus()
    random.Random(1).shuffle(short)
    docs, held_out = short[2000:] + long, short[:2000]
    if args.cases > len(docs):              # beyond the distinct texts: two joined (bench/similar_latency.py)
        docs += combined(short[2000:], args.cases - len(docs))
    drafts = [{"subject": t[:20], "description": t} for t in held_out if len(t) >= 10]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        var = args.var or Path(tmp) / "var"
        key = arranged(var, args.cases, docs)
        body = Path(tmp) / "fixed-body.json"
        if args.baseline:
            tree = checkout(args.baseline, Path(tmp))
            results += run_server(f"baseline {args.baseline}", tree, args.baseline_var or var, 2, free_port(), tmp,
                                  key, drafts, args, ["closed"])
        for workers, modes in ((1, ["closed"]), (2, ["closed", "open"])):
            results += run_server("this tree", ROOT, var, workers, free_port(), tmp, key, drafts, args, modes)
        body.write_bytes(sample_body(var, key, drafts[0]))
        results += run_server("fixed JSON (ceiling)", ROOT, var, 2, free_port(), tmp, key, drafts, args, ["closed"],
                              app="fixed_json_app:create_app", env_extra={"ZHIKU_BENCH_FIXED_BODY": str(body)})
    report(args, results)


def sample_body(var: Path, key: str, draft: dict) -> bytes:
    """A real suggestion response (its size is what the ceiling run answers)."""
    port = free_port()
    env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_PORT": str(port), "ZHIKU_LOAD_DEMO_DATA": "false",
           "ZHIKU_LOG_JSON": "false"}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(serve_command(1, port, tree=ROOT), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc, log, key)
            return httpx.post(f"http://127.0.0.1:{port}/api/v1/suggestions", json=draft,
                              headers={"Authorization": f"Bearer {key}"}, timeout=10).content
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def report(args, results: list[dict]) -> None:
    print(f"{args.cases} resolved cases; client and server share this machine's {os.cpu_count()} cores; "
          f"load average before the report {os.getloadavg()[0]:.2f}")
    print(f"{'server':22s} {'workers':>7s}  {'load':26s} {'requests':>8s} {'errors':>6s} {'req/s':>7s} "
          f"{'p50 ms':>7s} {'p99 ms':>7s} {'client':>6s}  {'worker cores (share)':24s} {'RSS MB':>12s}")
    for r in results:
        cores = " ".join(f"{c:.2f}({s:.0%})" for c, s in zip(r["worker_cores"], r["shares"]))
        rss = " ".join(f"{b / 2**20:.0f}" for b in r["rss"])
        print(f"{r['label']:22s} {r['workers']:7d}  {r['mode']:26s} {r['requests']:8d} {r['errors']:6d} "
              f"{r['rps']:7.1f} {r['p50']:7.1f} {r['p99']:7.1f} {r['client']:6.2f}  {cores:24s} {rss:>12s}")
    ours = [r for r in results if r["label"] == "this tree"]
    one, two, two_open = ours[0], ours[1], ours[2]
    ceiling = next(r for r in results if r["label"].startswith("fixed JSON"))
    base = next((r for r in results if r["label"].startswith("baseline")), None)
    scale = two["rps"] / one["rps"]
    vs_base = two["rps"] / base["rps"] if base else float("nan")
    errors = sum(r["errors"] for r in ours)
    rss = max(max(r["rss"]) for r in ours) / 2**20
    print(f"2 workers: {two['rps']:.0f} req/s = {vs_base:.2f}× the baseline commit, {scale:.2f}× one worker, "
          f"{two['rps'] / ceiling['rps']:.0%} of the framework's ceiling ({ceiling['rps']:.0f} req/s)")
    ok = (two["rps"] >= 150 and two_open["rps"] >= 0.97 * args.rate and two_open["p99"] <= 50 and errors == 0
          and (base is None or vs_base >= 2.0) and scale >= 1.8 and rss <= 1024)
    finish(ok, f"2 workers {two['rps']:.0f} req/s (≥150; {vs_base:.2f}× baseline ≥2; {scale:.2f}× one worker ≥1.8); "
               f"at {args.rate:g} offered p50 {two_open['p50']:.1f} ms p99 {two_open['p99']:.1f} ms (≤50); "
               f"errors {errors}; RSS ≤ {rss:.0f} MB (≤1024)")


if __name__ == "__main__":
    main()
