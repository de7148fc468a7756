"""Spreadsheet import throughput on real Chinese text, and how long it holds the write lock.

A 需求记录表 of N rows (default the largest allowed, ``sheet_import.MAX_ROWS`` = 20,000) is written from the TipDM 2020 citizen messages
(留言主题 → 沟通事由, 留言详情 → 客户需求描述, with phone numbers in some rows so masking and
redaction do real work), then checked (the dry run) and imported as a job
(``kb.cases.import_job``: checks in a read transaction, rows stored in short write
transactions of ``import_job.CHUNK`` rows) on a fresh SQLite database. Baseline: the same rows
logged one by one through ``service.create_case``, one transaction each — what a client
posting rows would do — timed on the first 1,000 rows.

Targets: no write transaction of the import holds the write lock longer than 0.5 s (an
agent's save waits behind one chunk at most), and the import stores rows faster than the
one-by-one baseline.

    .venv/bin/python bench/import_speed.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, finish, read_tsv

from kb import jobs
from kb.cases import import_job, service, sheet_export, sheet_import
from kb.cases.sheet_layout import SERVICE_HEADERS
from kb.clock import Clock
from kb.db import make_session
from kb.models import CaseCreate, Job, JobKind
from kb.settings import Settings
from kb.setup import prepare_database

CHANNELS = ("电话", "在线客服", "邮件", "社交媒体")
TYPES = ("咨询", "投诉", "建议", "变更", "其他")
PRIORITIES = ("高", "中", "低")
BASELINE_ROWS = 1000
LONGEST_TX_SECONDS = 0.5


def messages():
    frames = [read_tsv(f"tipdm2020_gov_messages/{name}") for name in
              ("messages_with_votes.tsv", "messages_with_replies.tsv", "messages_unlabeled_test.tsv")]
    for frame in frames:
        for topic, detail, at in zip(frame["topic"], frame["detail"], frame["time"], strict=True):
            if topic.strip() and len(detail.strip()) >= 2:
                yield topic.strip()[:200], detail.strip()[:5000], at


def build_rows(n: int) -> list[list[str]]:
    rows, source = [], list(messages())
    for i in range(n):
        topic, detail, at = source[i % len(source)]
        day, clock = (at.split(" ") + ["09:00:00"])[:2]
        if i >= len(source):            # the same text again is a new contact: a later minute
            clock = f"{(i // len(source)) % 24:02d}:{(i // 60) % 60:02d}"
        phone = f"1{3 + i % 6}{i:09d}"[:11]
        if i % 5 == 0:
            detail = f"{detail}。联系电话{phone}"
        status = ("已解决", "已关闭", "处理中", "待处理")[i % 4]
        result = "已转相关部门处理并回复" if status in ("已解决", "已关闭") else ""
        rows.append([str(i + 1), day, clock[:5], CHANNELS[i % 4], f"市民{i:05d}", f"C{i:06d}", phone, topic, detail,
                     TYPES[i % 5], PRIORITIES[i % 3], status, "", "", result, "满意" if result and i % 3 else "", ""])
    return rows


def to_csv(rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SERVICE_HEADERS)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def fresh(tmp: Path, name: str):
    settings = Settings(data_dir=ROOT / "data", var_dir=tmp / name)
    settings.var_dir.mkdir(parents=True)
    engine = prepare_database(settings)
    from kb.cases.service import rules_from_settings

    return engine, rules_from_settings(settings, Clock(tz=settings.tz))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=sheet_import.MAX_ROWS)
    args = parser.parse_args()
    content = to_csv(build_rows(args.rows))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        engine, rules = fresh(tmp, "import")
        t0 = time.perf_counter()
        table = sheet_import.read_table(content, "bench.csv")
        t1 = time.perf_counter()
        with make_session(engine) as session:
            checks = sheet_import.check_rows(session, table, tz=rules.clock.tz)
        t2 = time.perf_counter()
        bad = sum(1 for c in checks if c.errors)
        reasons = Counter(e["reason"].split("：")[0][:30] for c in checks for e in c.errors)
        with make_session(engine, write=True) as session:      # the route: a job with the uploaded file
            job = jobs.enqueue(session, kind=JobKind.import_cases, actor="bench", params={}, upload=content,
                               filename="bench.csv")
        runner = jobs.runner_name("bench")
        assert jobs.claim(engine, runner=runner, node=None).id == job.id
        j0 = time.perf_counter()
        import_job.run(engine, job.id, runner, rules=rules)
        t3 = time.perf_counter()
        with make_session(engine) as session:
            result = session.get(Job, job.id).result
        numbers, held_longest = result["numbers"], result["write_transactions"]["longest_seconds"]
        from kb.cases import queries

        with make_session(engine) as session:
            cases, _ = queries.list_cases(session, queries.CaseFilter(), now=rules.clock.now(), limit=args.rows)
            e0 = time.perf_counter()
            xlsx = sheet_export.to_xlsx(sheet_export.export_headers(), [sheet_export.case_row(c, rules.clock.tz)
                                                                      for c in cases])
            e1 = time.perf_counter()
        engine.dispose()

        base_engine, base_rules = fresh(tmp, "baseline")
        base_table = sheet_import.read_table(to_csv(build_rows(BASELINE_ROWS)), "bench.csv")
        with make_session(base_engine) as session:
            base_checks = sheet_import.check_rows(session, base_table, tz=base_rules.clock.tz)
        b0 = time.perf_counter()
        base_checks = [c for c in base_checks if c.data is not None]
        for c in base_checks:
            with make_session(base_engine, write=True) as session:
                data = CaseCreate.model_validate(c.data.model_dump(include=set(CaseCreate.model_fields)))
                service.create_case(session, data, actor="bench", rules=base_rules)
        b1 = time.perf_counter()
        base_engine.dispose()

    held = t3 - j0          # the whole job: read, check again, store in chunks
    rate = len(numbers) / held
    base_rate = len(base_checks) / (b1 - b0)
    print(f"{'rows':>8} {'read s':>8} {'dry run s':>10} {'import s':>9} {'rows/s':>8} {'longest tx s':>13} "
          f"{'bad':>5} {'export s':>9} {'xlsx MB':>8}")
    print(f"{args.rows:>8} {t1 - t0:>8.2f} {t2 - t1:>10.2f} {held:>9.2f} {rate:>8.0f} {held_longest:>13.3f} {bad:>5} "
          f"{e1 - e0:>9.2f} {len(xlsx) / 1e6:>8.1f}")
    if reasons:
        print("bad rows by reason:", dict(reasons.most_common(5)))
    print(f"baseline (one transaction per row, {len(base_checks)} rows): {base_rate:.0f} rows/s; "
          f"import/baseline ×{rate / base_rate:.1f}")
    ok = held_longest <= LONGEST_TX_SECONDS and rate > base_rate and len(numbers) == args.rows - bad
    finish(ok, f"{len(numbers)} rows imported in {held:.1f} s, longest write transaction {held_longest:.2f} s "
               f"(target ≤ {LONGEST_TX_SECONDS}), {rate:.0f} rows/s vs {base_rate:.0f} one by one "
               f"(×{rate / base_rate:.1f}); dry run {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
