"""Two app nodes on one PostgreSQL database: how soon a change made through node A shows
through node B.

Two nodes are started as real process trees (``python -m api serve --workers 2`` each, own
var dir and index replica, every setting at its default: index poll 0.5 s, model poll 2 s)
on a fresh database of a PostgreSQL server (``--database-url``, else a throwaway cluster
started with ``scripts/pg-throwaway.sh``), loaded with the demo data and the first model.
Measured, sequentially:

- **a resolved case**: created and resolved through A with a unique code in its text; then
  both A and B are searched for the code every 20 ms. Visible on B p50/p99, with A (the node
  that took the write; its own writer follows the same feed) as the baseline of the same run;
- **a restricted article**: a published 内部公开 article is restricted to 仅技术团队 through A;
  time until an agent no longer sees it through B (not in B's article list, its URL a 404);
- **a model**: trained and promoted through A; time until B's ``/health`` reports the version
  in use (A's time as the baseline).

Targets: a resolved case visible on B within 2 s at p99; the restricted article gone from B
within 2 s; the promoted model in use on B within 5 s. Errors and timeouts are counted.

    .venv/bin/python bench/two_nodes.py [--cases 40] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx2 as httpx
import numpy as np
from _common import ROOT, finish, postgres_database

POLL = 0.02
GIVE_UP = 30.0
RESOLUTION = {"analysis": "闸机读卡模块松动", "root_cause": "读卡模块接线松动", "solution_perm": "重新紧固读卡模块并更新固件",
              "result": "已恢复"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throwaway_cluster(tmp: Path) -> str:
    tmp.chmod(0o755)          # the server runs as the postgres user when we are root
    out = subprocess.run(["bash", str(ROOT / "scripts" / "pg-throwaway.sh"), "start", str(tmp / "pg")],
                         capture_output=True, text=True, check=True, timeout=600)
    return out.stdout.strip().splitlines()[-1]


def fresh_database(server_url: str) -> str:
    return postgres_database(server_url, f"zhiku_two_nodes_{uuid.uuid4().hex[:8]}")


def node_env(db_url: str, var: Path, port: int, *, first: bool) -> dict:
    return {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_DATABASE_URL": db_url, "ZHIKU_PORT": str(port),
            "ZHIKU_HOST": "127.0.0.1", "ZHIKU_LOAD_DEMO_DATA": str(first).lower(),
            "ZHIKU_BOOTSTRAP_MODEL": str(first).lower(), "ZHIKU_LOG_JSON": "false"}


def start_node(db_url: str, var: Path, *, first: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (var.parent / f"{var.name}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--workers", "2"], cwd=ROOT,
                            env=node_env(db_url, var, port, first=first), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"node {var.name} exited: {(var.parent / f'{var.name}.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("status") == "ok":
                return proc, url
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"node {var.name} not healthy within 600 s")


def until(check, start: float) -> float | None:
    """Seconds from ``start`` until ``check()`` holds (polled every 20 ms); None after 30 s."""
    while time.perf_counter() - start < GIVE_UP:
        try:
            if check():
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(POLL)
    return None


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--database-url", help="a PostgreSQL server URL; a fresh database is created in it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = args.database_url or throwaway_cluster(tmp)
        db_url = fresh_database(server)
        created = subprocess.run([sys.executable, "-m", "api", "create-admin"], cwd=ROOT, check=True, timeout=600,
                                 env=node_env(db_url, tmp / "a", 0, first=False), capture_output=True, text=True)
        admin = {"Authorization": f"Bearer {created.stdout.strip().rsplit(' ', 1)[-1]}"}
        procs = []
        try:
            a, url_a = start_node(db_url, tmp / "a", first=True)
            procs.append(a)
            b, url_b = start_node(db_url, tmp / "b", first=False)
            procs.append(b)
            figures = measure(url_a, url_b, admin, args.cases)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if not args.database_url:
                subprocess.run(["bash", str(ROOT / "scripts" / "pg-throwaway.sh"), "stop", str(tmp / "pg")],
                               capture_output=True, timeout=120)
    report(figures, args.cases)


def key_for(url: str, admin: dict, username: str, role: str) -> dict:
    httpx.post(f"{url}/api/v1/users", headers=admin, json={"username": username, "display_name": username,
                                                            "role": role}, timeout=30)
    issued = httpx.post(f"{url}/api/v1/users/{username}/keys", headers=admin, json={}, timeout=30)
    issued.raise_for_status()
    return {"Authorization": f"Bearer {issued.json()['key']}"}


def measure(url_a: str, url_b: str, admin: dict, n: int) -> dict:
    agent = key_for(url_a, admin, "bench_agent", "agent")
    km = key_for(url_a, admin, "bench_km", "knowledge_manager")
    analyst = key_for(url_a, admin, "bench_analyst", "analyst")
    out: dict = {"case_a": [], "case_b": [], "errors": 0, "timeouts": 0}

    def found(url: str, code: str, number: str) -> bool:
        r = httpx.get(f"{url}/api/v1/search", headers=agent, params={"q": code}, timeout=10)
        return r.status_code == 200 and number in [i["number"] for i in r.json()["items"]]

    for i in range(n):
        code = f"ZJ{i:04d}Q{uuid.uuid4().hex[:4]}"
        r = httpx.post(f"{url_a}/api/v1/cases", headers=agent, timeout=30, json={
            "contact_at": "2026-11-20T09:15:00+08:00", "channel": "电话", "customer_name": f"两节点客户{i}",
            "customer_kind": "个人客户", "subject": f"门禁闸机刷卡无反应 {code}",
            "description": f"闸机刷卡一直红灯，设备编号 {code}", "type": "投诉", "priority": "中"})
        if r.status_code != 201:
            out["errors"] += 1
            continue
        number = r.json()["number"]
        resolved = httpx.post(f"{url_a}/api/v1/cases/{number}/resolve", headers=agent, json=RESOLUTION, timeout=30)
        if resolved.status_code != 200:
            out["errors"] += 1
            continue
        start = time.perf_counter()
        seen: dict = {}
        threads = [threading.Thread(target=lambda u=u, k=k: seen.__setitem__(k, until(lambda: found(u, code, number), start)))
                   for u, k in ((url_a, "case_a"), (url_b, "case_b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k in ("case_a", "case_b"):
            if seen[k] is None:
                out["timeouts"] += 1
            else:
                out[k].append(seen[k])

    # a restricted article: gone from B for an agent
    article = httpx.post(f"{url_a}/api/v1/articles", headers=km, timeout=30, json={
        "title": "闸机刷卡红灯的处理办法", "body": "## 现象\n刷卡红灯。\n\n## 处理\n紧固读卡模块。", "audience": "内部公开"}).json()
    v = article["version"]
    httpx.post(f"{url_a}/api/v1/articles/{article['id']}/transitions", headers=km, json={"state": "审核中", "version": v})
    published = httpx.post(f"{url_a}/api/v1/articles/{article['id']}/transitions", headers=km,
                           json={"state": "已发布", "version": v + 1}, timeout=30).json()
    visible = until(lambda: httpx.get(f"{url_b}/api/v1/articles/{article['id']}", headers=agent, timeout=10).status_code
                    == 200, time.perf_counter())
    listed_before = httpx.get(f"{url_b}/api/v1/articles", headers=agent, timeout=10).json()["total"]
    restricted = httpx.patch(f"{url_a}/api/v1/articles/{article['id']}", headers=km, timeout=30,
                             json={"version": published["version"], "audience": "仅技术团队"})
    start = time.perf_counter()
    out["article_b"] = until(lambda: httpx.get(f"{url_b}/api/v1/articles/{article['id']}", headers=agent,
                                               timeout=10).status_code == 404
                             and httpx.get(f"{url_b}/api/v1/articles", headers=agent, timeout=10).json()["total"]
                             == listed_before - 1, start) if restricted.status_code == 200 and visible is not None \
        else None

    # a model trained and promoted through A
    job = httpx.post(f"{url_a}/api/v1/models/train", headers=analyst, json={}, timeout=30).json()
    done = None
    for _ in range(600):
        done = httpx.get(f"{url_a}/api/v1/jobs/{job['id']}", headers=analyst, timeout=10).json()
        if done["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    out["model_a"] = out["model_b"] = None
    if done and done["status"] == "done":
        version = done["version"]
        promoted = httpx.post(f"{url_a}/api/v1/models/{version}/promote", headers=analyst, json={}, timeout=60)
        if promoted.status_code == 200:
            start = time.perf_counter()
            seen = {}

            def in_use(url: str) -> bool:
                return httpx.get(f"{url}/health", headers=admin, timeout=10).json()["model"]["version"] == version

            threads = [threading.Thread(target=lambda u=u, k=k: seen.__setitem__(k, until(lambda: in_use(u), start)))
                       for u, k in ((url_a, "model_a"), (url_b, "model_b"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out.update(seen)
        else:
            out["errors"] += 1
            out["promote_problem"] = promoted.text[:300]
    else:
        out["errors"] += 1
    return out


def report(f: dict, n: int) -> None:
    print(f"two nodes (serve --workers 2 each) on one PostgreSQL database, {os.cpu_count()} cores shared by "
          f"both nodes, the database and this client; {n} cases")
    print(f"{'what':44s} {'node A (baseline)':>18s} {'node B':>10s}")
    for label, q in (("resolved case found by search, p50 s", 50), ("resolved case found by search, p99 s", 99)):
        print(f"{label:44s} {pct(f['case_a'], q):18.2f} {pct(f['case_b'], q):10.2f}")
    fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"{'restricted article gone for an agent, s':44s} {'(immediate)':>18s} {fmt(f.get('article_b')):>10s}")
    print(f"{'promoted model in use, s':44s} {fmt(f.get('model_a')):>18s} {fmt(f.get('model_b')):>10s}")
    print(f"errors {f['errors']}, timeouts {f['timeouts']} (30 s)")
    p99_b = pct(f["case_b"], 99)
    ok = (len(f["case_b"]) == n and p99_b <= 2.0 and f.get("article_b") is not None and f["article_b"] <= 2.0
          and f.get("model_b") is not None and f["model_b"] <= 5.0 and f["errors"] == 0 and f["timeouts"] == 0)
    finish(ok, f"case on B p50 {pct(f['case_b'], 50):.2f} s / p99 {p99_b:.2f} s (A p99 {pct(f['case_a'], 99):.2f} s, "
               f"target ≤ 2), article gone on B {fmt(f.get('article_b'))} s (≤ 2), model on B {fmt(f.get('model_b'))} s "
               f"(≤ 5, A {fmt(f.get('model_a'))} s); errors {f['errors']}, timeouts {f['timeouts']}")


if __name__ == "__main__":
    main()
