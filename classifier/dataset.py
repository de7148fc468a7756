"""Labelled, redacted training examples from the database or from data/demo/."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from kb.models import Case
from kb.privacy import redact_text


@dataclass(frozen=True)
class Example:
    text: str
    type: str
    priority: str
    at: datetime | str


def case_text(subject: str, description: str) -> str:
    return f"{subject}\n{description}"


def from_db(session: Session) -> list[Example]:
    """Every case with its agents' final type and priority, oldest first. Text is redacted
    again here so a deployment that stores raw text still never trains on personal numbers."""
    rows = session.exec(select(Case.subject, Case.description, Case.type, Case.priority, Case.contact_at)
                        .order_by(Case.contact_at, Case.id))
    return [Example(redact_text(case_text(s, d)), t, p, at) for s, d, t, p, at in rows]


def from_demo(path: Path) -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out.append(Example(redact_text(case_text(row["subject"], row["description"])), row["type"],
                                   row["priority"], row["contact_at"]))
    return sorted(out, key=lambda e: str(e.at))


def time_split(examples: list[Example], train_fraction: float = 0.8) -> tuple[list[Example], list[Example]]:
    """Train on the past, test on the future: the honest split for a service desk."""
    ordered = sorted(examples, key=lambda e: str(e.at))
    cut = int(len(ordered) * train_fraction)
    return ordered[:cut], ordered[cut:]


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.text}\x1f{e.type}\x1f{e.priority}\x1e".encode())
    return h.hexdigest()
