"""Acceptance of proposals: how often agents kept what the model suggested."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case
from sqlmodel import Session, func, select

from kb.models import SuggestionLog


def acceptance(session: Session, model_version: str) -> dict[str, Any]:
    """Per head and per proposed label: shown (linked to a saved case), accepted, rate."""
    out: dict[str, Any] = {"version": model_version}
    for head, label_col, ok_col in (("type", SuggestionLog.type_label, SuggestionLog.type_accepted),
                                    ("priority", SuggestionLog.priority_label, SuggestionLog.priority_accepted)):
        rows = session.exec(
            select(label_col, func.count(), func.sum(case((ok_col == True, 1), else_=0)))
            .where(SuggestionLog.model_version == model_version, SuggestionLog.case_id.is_not(None),
                   ok_col.is_not(None))
            .group_by(label_col))
        per_label = {label: {"shown": n, "accepted": int(acc or 0), "rate": round((acc or 0) / n, 4)}
                     for label, n, acc in rows}
        shown = sum(v["shown"] for v in per_label.values())
        accepted = sum(v["accepted"] for v in per_label.values())
        out[head] = {"shown": shown, "accepted": accepted, "rate": round(accepted / shown, 4) if shown else None,
                     "per_label": per_label}
    return out
