"""The README's run command: prepare the embedded default and serve.

    python -m api                 # migrate, load taxonomy + demo data, print a first admin key, serve
    python -m api create-admin    # issue a new admin key (e.g. when the first one was lost)
    python -m api backup FILE     # SQLite: an online, consistent copy of the database
    python -m api worker          # this node's job worker and index writer, apart from the web workers
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from kb.access import ensure_admin, get_user_or_raise, issue_key
from kb.clock import Clock
from kb.db import session_scope
from kb.demo import load_demo
from kb.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="知库 Zhiku service")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="prepare and serve (default)")
    serve.add_argument("--workers", type=int, default=1)
    admin = sub.add_parser("create-admin", help="issue a key for an admin user (created if missing)")
    admin.add_argument("--username", default="admin")
    sub.add_parser("worker", help="run this node's jobs (training, imports, rebuilds) and its index writer; "
                                  "start the web workers with ZHIKU_EMBEDDED_WORKER=false ZHIKU_EMBEDDED_INDEXER=false")
    backup = sub.add_parser("backup", help="SQLite: copy the live database to FILE (PostgreSQL: use pg_dump)")
    backup.add_argument("file")
    args = parser.parse_args(argv)
    if args.command == "backup":
        return _backup(args.file)

    from api.logging import configure_logging
    from kb.cases.service import rules_from_settings
    from kb.setup import prepare_database

    settings = get_settings()
    configure_logging(json_lines=settings.log_json)
    try:
        engine = prepare_database(settings)
    except OperationalError as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"无法连接数据库 Cannot reach the database {where}: {str(exc.orig or exc).strip().splitlines()[0]}\n"
              f"请检查 ZHIKU_DATABASE_URL 与数据库服务是否在运行。", file=sys.stderr)
        return 2
    clock = Clock(tz=settings.tz)

    if args.command == "worker":
        engine.dispose()
        from api.background import run

        return run()
    if args.command == "create-admin":
        with session_scope(engine, write=True) as session:
            plain = ensure_admin(session, now=clock.now(), username=args.username)
            if plain is None:
                _, plain = issue_key(session, get_user_or_raise(session, args.username), now=clock.now(),
                                     note="create-admin")
        print(f"admin key for {args.username}: {plain}")
        return 0

    if settings.load_demo_data:
        loaded = load_demo(engine, settings.data_dir / "demo", rules_from_settings(settings))
        if loaded:
            print(f"loaded demo data: {loaded} cases")
    if settings.bootstrap_model:
        from classifier.bootstrap import bootstrap, describe_first_model
        from classifier.registry import ModelRegistry
        from kb.dictionary import install_segmenter_from_db

        segmenter = install_segmenter_from_db(engine, settings.jieba_cache_dir)
        row = bootstrap(engine, ModelRegistry(settings.model_dir), segmenter, settings.data_dir / "demo" / "cases.jsonl",
                        floors=settings.promotion_floors)
        if row:
            print(describe_first_model(row))
    with session_scope(engine, write=True) as session:
        plain = ensure_admin(session, now=clock.now())
    if plain:
        print("=" * 72)
        print("首次启动：已创建管理员 admin。请保存此 API 密钥（只显示这一次）：")
        print(f"    {plain}")
        print("=" * 72)
    engine.dispose()

    from api.serve import serve

    print(f"知库 Zhiku serving on http://{settings.host}:{settings.port}/  — 在浏览器打开并用 API 密钥登录"
          f"  (API docs: /docs)", flush=True)
    serve(settings.host, settings.port, workers=getattr(args, "workers", 1))
    return 0


def _backup(target: str) -> int:
    """SQLite's online backup API: a consistent copy while the service keeps writing."""
    import sqlite3
    from pathlib import Path

    settings = get_settings()
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        print("PostgreSQL: use pg_dump / pg_restore (docs/operations.md, Backup and restore)", file=sys.stderr)
        return 2
    out = Path(target)
    if out.exists():
        print(f"{out} exists; choose a new file", file=sys.stderr)
        return 2
    source = sqlite3.connect(url.database)
    copy = sqlite3.connect(out)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    from kb.uploads import copy_for_backup

    sheets = copy_for_backup(Path(url.database), out)      # queued imports' files live beside the database
    print(f"backed up {url.database} → {out} ({out.stat().st_size / 1e6:.1f} MB)"
          + (f", and {sheets} queued import file(s) → {out}-uploads/" if sheets else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
