"""Reading and editing the taxonomy rows (types, priorities, channels, emotions, groups)."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path

from sqlmodel import Session, func, select

from kb import recent
from kb.errors import Conflict, FieldError, NotFound
from kb.models import TAXONOMY_KINDS, Case, Label, LabelCreate, LabelUpdate

CASE_CODE_KINDS = ("type", "priority", "channel", "emotion")     # the label kinds a case's fields name

_active_labels = recent.Memo("active type and priority labels", watch=(Label,), maxsize=64)


def load_default_taxonomy(session: Session, path: Path) -> int:
    """Insert the file's labels when the table is empty; returns how many were added.

    Runs on every start; once admins have edited the taxonomy the file is not re-applied."""
    if session.exec(select(func.count()).select_from(Label)).one():
        return 0
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    added = 0
    for kind in TAXONOMY_KINDS:
        for order, item in enumerate(raw.get(kind, [])):
            data = LabelCreate.model_validate({"sort_order": order, **item})
            session.add(Label(kind=kind, **data.model_dump()))
            added += 1
    session.flush()
    return added


def list_labels(session: Session, kind: str | None = None, *, active_only: bool = False) -> list[Label]:
    stmt = select(Label).order_by(Label.kind, Label.sort_order, Label.id)
    if kind:
        stmt = stmt.where(Label.kind == kind)
    if active_only:
        stmt = stmt.where(Label.active == True)
    return list(session.exec(stmt))


def active_codes(session: Session, kind: str) -> set[str]:
    return {label.code for label in list_labels(session, kind, active_only=True)}


def active_labels(session: Session) -> dict[str, set[str]]:
    """The codes a model's heads must cover: active types and priorities (one column query)."""
    codes = active_codes_with_groups(session, ("type", "priority"))
    return {kind: set(of_kind) for kind, of_kind in codes.items()}


def recent_active_labels(session: Session) -> dict[str, set[str]]:
    """``active_labels`` as the request path reads it: remembered for a second (``kb.recent``)."""
    labels = _active_labels.get(str(session.get_bind().url), lambda: active_labels(session))
    return {kind: set(codes) for kind, codes in labels.items()}


def require_code(session: Session, kind: str, code: str | None, *, field: str) -> None:
    """Raise FieldError unless ``code`` is an active label of ``kind`` (None passes)."""
    if code is not None:
        check_code(active_codes(session, kind), kind, code, field=field)


def check_code(codes: Collection[str], kind: str, code: str | None, *, field: str) -> None:
    """``require_code`` against active ``codes`` of ``kind`` already read."""
    if code is not None and code not in codes:
        raise FieldError(field, f"未知的{_KIND_ZH[kind]}「{code}」；可选：{'、'.join(sorted(codes))}")


def active_codes_with_groups(session: Session, kinds: Collection[str]) -> dict[str, dict[str, str | None]]:
    """The active codes of ``kinds`` from the database, each with its routing group (types
    have one), in one column query. Why: a case's save read every label row of each kind it
    checks, one query per kind, and the type's label once more for its group — a fifth of a
    creation's time on PostgreSQL."""
    out: dict[str, dict[str, str | None]] = {kind: {} for kind in kinds}
    if kinds:
        for kind, code, group in session.exec(select(Label.kind, Label.code, Label.route_group)
                                              .where(Label.active == True, Label.kind.in_(list(kinds)))):
            out[kind][code] = group
    return out


def route_group_for(session: Session, type_code: str) -> str | None:
    label = session.exec(select(Label).where(Label.kind == "type", Label.code == type_code)).first()
    return label.route_group if label else None


def create_label(session: Session, kind: str, data: LabelCreate) -> Label:
    _check_kind(kind)
    exists = session.exec(select(Label).where(Label.kind == kind, Label.code == data.code)).first()
    if exists:
        raise Conflict(f"{_KIND_ZH[kind]}「{data.code}」已存在", field="code")
    if kind == "type":
        require_code(session, "group", data.route_group, field="route_group")
    label = Label(kind=kind, **data.model_dump())
    session.add(label)
    session.commit()
    return label


def update_label(session: Session, kind: str, code: str, data: LabelUpdate) -> Label:
    _check_kind(kind)
    label = session.exec(select(Label).where(Label.kind == kind, Label.code == code)).first()
    if label is None:
        raise NotFound(f"{_KIND_ZH[kind]}「{code}」不存在", field="code")
    changes = data.model_dump(exclude_unset=True)
    if kind == "type" and changes.get("route_group") is not None:
        require_code(session, "group", changes["route_group"], field="route_group")
    if changes.get("active") is False and kind in ("type", "priority"):
        remaining = active_codes(session, kind) - {code}
        if not remaining:
            raise Conflict(f"至少保留一个启用的{_KIND_ZH[kind]}", field="active")
    for key, value in changes.items():
        setattr(label, key, value)
    session.add(label)
    session.commit()
    return label


def label_in_use(session: Session, kind: str, code: str) -> int:
    column = {"type": Case.type, "priority": Case.priority, "channel": Case.channel,
              "emotion": Case.emotion, "group": Case.group}[kind]
    return session.exec(select(func.count()).select_from(Case).where(column == code)).one()


def _check_kind(kind: str) -> None:
    if kind not in TAXONOMY_KINDS:
        raise NotFound(f"没有分类「{kind}」；可选：{'、'.join(TAXONOMY_KINDS)}", field="kind")


_KIND_ZH = {"type": "需求类型", "priority": "优先级", "channel": "沟通渠道", "emotion": "客户情绪", "group": "处理组"}
