"""Labelled, redacted training examples from the database or from data/demo/, and the
evaluation split that near-duplicates cannot fool."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlmodel import Session, select

from classifier.groups import split_groups
from kb.models import Case
from kb.privacy import redact_text


@dataclass(frozen=True)
class Example:
    text: str
    type: str
    priority: str
    at: datetime | str
    customer: str | None = None


def case_text(subject: str, description: str) -> str:
    return f"{subject}\n{description}"


def from_db(session: Session) -> list[Example]:
    """Every case with its agents' final type and priority, oldest first. Text is redacted
    again here so a deployment that stores raw text still never trains on personal numbers."""
    rows = session.exec(select(Case.subject, Case.description, Case.type, Case.priority, Case.contact_at,
                               Case.customer_id).order_by(Case.contact_at, Case.id))
    return [Example(redact_text(case_text(s, d)), t, p, at, c) for s, d, t, p, at, c in rows]


def from_demo(path: Path) -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out.append(Example(redact_text(case_text(row["subject"], row["description"])), row["type"],
                                   row["priority"], row["contact_at"], row.get("customer_id")))
    return sorted(out, key=lambda e: str(e.at))


def time_split(examples: list[Example], train_fraction: float = 0.8) -> tuple[list[Example], list[Example]]:
    """Train on the past, test on the future: the honest split for a service desk."""
    ordered = sorted(examples, key=lambda e: str(e.at))
    cut = int(len(ordered) * train_fraction)
    return ordered[:cut], ordered[cut:]


@dataclass(frozen=True)
class Split:
    """Indexes into the time-ordered examples; ``groups`` holds every example's group id."""

    train: np.ndarray
    test: np.ndarray
    groups: np.ndarray
    moved: int          # examples after the time cut that stay in training with their group

    def describe(self) -> dict:
        return {"split": "grouped_time", "train_rows": int(len(self.train)), "test_rows": int(len(self.test)),
                "groups": int(len(set(self.groups.tolist()))), "moved_to_train": self.moved}


def customer_keys(examples: list[Example], *, max_share: float = 0.01, min_cases: int = 20) -> list[str | None]:
    """Customers used for grouping. One whose cases are more than ``max_share`` of the whole
    (and at least ``min_cases``) is an organisation the desk serves at large — an internal IT
    desk's "总部" — not one person reporting one problem again, and grouping on it would put
    most of the history on one side."""
    counts = Counter(e.customer for e in examples if e.customer)
    too_big = {c for c, n in counts.items() if n >= min_cases and n > max_share * len(examples)}
    return [e.customer if e.customer and e.customer not in too_big else None for e in examples]


def grouped_time_split(ordered: list[Example], train_fraction: float = 0.8) -> Split:
    """Train on the past, test on the future — and never on a near-twin or the same customer's
    case of something the model trained on: a group sits on the side where its first
    example falls, so later twins of a training case stay in training."""
    groups = split_groups([e.text for e in ordered], customer_keys(ordered))
    cut = int(len(ordered) * train_fraction)
    first: dict[int, int] = {}
    for i, g in enumerate(groups.tolist()):
        first.setdefault(g, i)
    in_train = np.array([first[g] < cut for g in groups.tolist()], dtype=bool)
    train, test = np.nonzero(in_train)[0], np.nonzero(~in_train)[0]
    return Split(train, test, groups, moved=int(in_train[cut:].sum()))


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.text}\x1f{e.type}\x1f{e.priority}\x1e".encode())
    return h.hexdigest()
