"""Load the project's demo data (data/demo/) into an empty database.

Cases are replayed through the real use cases with a clock fixed at each step's
time, so numbers, SLA due times, history and the search outbox look exactly as if
agents had logged and resolved them."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from kb.access import create_user
from kb.cases import service
from kb.clock import FixedClock
from kb.db import session_scope
from kb.models import (
    Case,
    CaseCreate,
    CaseFeedback,
    CaseResolve,
    CaseStatus,
    CaseTransition,
    User,
    UserCreate,
)

CASE_FIELDS = set(CaseCreate.model_fields)


def load_demo(engine: Engine, demo_dir: Path, rules: service.CaseRules, *, limit: int | None = None) -> int:
    """Load users and cases when the database has no cases yet; returns the number of cases loaded."""
    with session_scope(engine, write=True) as session:
        if session.exec(select(func.count()).select_from(Case)).one():
            return 0
        _load_users(session, demo_dir / "users.toml", rules)
    count = 0
    with (demo_dir / "cases.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and count >= limit:
                break
            if line.strip():
                with session_scope(engine, write=True) as session:
                    replay_case(session, json.loads(line), rules)
                count += 1
    load_demo_articles(engine, demo_dir / "articles", now=rules.clock.now())
    return count


def load_demo_articles(engine: Engine, articles_dir: Path, *, now: datetime, author: str = "liuyang") -> int:
    """Import the demo knowledge articles (Markdown with front matter) through the real import."""
    from kb.articles.markdown_io import import_articles
    from kb.articles.service import ArticleRules

    files = [(p.name, p.read_bytes()) for p in sorted(articles_dir.glob("*.md"))]
    if not files:
        return 0
    with session_scope(engine, write=True) as session:
        report = import_articles(session, files, actor=author, now=now, rules=ArticleRules())
    if report["errors"]:
        raise ValueError(f"demo articles are invalid: {report['errors']}")
    return report["imported"]


def _load_users(session: Session, path: Path, rules: service.CaseRules) -> None:
    with path.open("rb") as fh:
        users = tomllib.load(fh).get("user", [])
    for item in users:
        if not session.exec(select(User).where(User.username == item["username"])).first():
            create_user(session, UserCreate.model_validate(item), now=rules.clock.now())


def replay_case(session: Session, row: dict, rules: service.CaseRules) -> Case:
    tz = rules.clock.tz
    contact_at = datetime.fromisoformat(row["contact_at"]).replace(tzinfo=tz)
    actor = row.get("created_by") or row.get("owner") or "admin"

    def at(minutes: float) -> service.CaseRules:
        return replace(rules, clock=FixedClock(tz=tz, at=contact_at + timedelta(minutes=minutes)))

    data = CaseCreate.model_validate({k: v for k, v in row.items() if k in CASE_FIELDS})
    case = service.create_case(session, data, actor=actor, rules=at(row.get("logged_after_minutes", 3)))
    status = CaseStatus(row.get("status", "待处理"))
    owner = row.get("owner") or actor
    if status == CaseStatus.pending:
        return case
    step = row.get("response_after_minutes", 30)
    case = service.transition(session, case.number, CaseTransition(status=CaseStatus.in_progress),
                              actor=owner, rules=at(step))
    if row.get("escalated") or status == CaseStatus.escalated:
        case = service.transition(session, case.number, CaseTransition(status=CaseStatus.escalated,
                                  note=row.get("escalation_note")), actor=owner, rules=at(step + 60))
    if status in (CaseStatus.in_progress, CaseStatus.escalated) and not row.get("reopened"):
        return case
    resolve_at = row.get("resolved_after_minutes", 240)
    case = service.resolve(session, case.number, CaseResolve.model_validate(
        {k: row[k] for k in ("analysis", "root_cause", "solution_temp", "solution_perm", "result", "fixed_in_version")
         if row.get(k)}), actor=owner, rules=at(resolve_at))
    if row.get("satisfaction") or row.get("nps_score") is not None:
        case = service.record_feedback(session, case.number, CaseFeedback(
            satisfaction=row.get("satisfaction"), nps_score=row.get("nps_score"), feedback=row.get("feedback"),
            reopen=bool(row.get("reopened"))), actor=owner, rules=at(resolve_at + 600))
    if row.get("reopened"):
        return case
    if status == CaseStatus.closed:
        case = service.transition(session, case.number, CaseTransition(status=CaseStatus.closed),
                                  actor=owner, rules=at(resolve_at + 60 * 24 * 3))
    return case
