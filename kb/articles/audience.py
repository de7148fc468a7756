"""Audiences: who may see which articles. The rule lives here once and is used both by
database reads and by index queries (as the list of audience codes a user may see)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sqlmodel import Session, func, select

from kb import recent
from kb.errors import Conflict, FieldError, NotFound
from kb.models import Audience, Role, User
from kb.models.article import AudienceCreate, AudienceUpdate

CURATORS = frozenset({Role.knowledge_manager, Role.admin})


def load_default_audiences(session: Session, path: Path) -> int:
    """Insert the taxonomy file's ``[[audience]]`` entries when the table is empty."""
    if session.exec(select(func.count()).select_from(Audience)).one():
        return 0
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    for item in raw.get("audience", []):
        session.add(Audience(**AudienceCreate.model_validate(item).model_dump()))
    session.flush()
    return len(raw.get("audience", []))


def list_audiences(session: Session) -> list[Audience]:
    return list(session.exec(select(Audience).order_by(Audience.id)))


def get_audience_or_raise(session: Session, code: str) -> Audience:
    audience = session.exec(select(Audience).where(Audience.code == code)).first()
    if audience is None:
        raise NotFound(f"受众「{code}」不存在", field="code")
    return audience


def require_audience(session: Session, code: str, *, field: str = "audience") -> None:
    audience = session.exec(select(Audience).where(Audience.code == code)).first()
    if audience is None or not audience.active:
        raise FieldError(field, f"受众「{code}」不存在或已停用")


def _check_roles(roles: list[str] | None) -> None:
    for role in roles or []:
        if role not in {r.value for r in Role}:
            raise FieldError("roles", f"角色「{role}」不存在；可选：{'、'.join(r.value for r in Role)}")


def create_audience(session: Session, data: AudienceCreate) -> Audience:
    _check_roles(data.roles)
    if session.exec(select(Audience).where(Audience.code == data.code)).first():
        raise Conflict(f"受众「{data.code}」已存在", field="code")
    audience = Audience(**data.model_dump())
    session.add(audience)
    session.commit()
    return audience


def update_audience(session: Session, code: str, data: AudienceUpdate) -> Audience:
    audience = get_audience_or_raise(session, code)
    changes = data.model_dump(exclude_unset=True)
    _check_roles(changes.get("roles"))
    for key, value in changes.items():
        if value is None and key != "active":
            raise FieldError(key, "该字段不能为空")
        setattr(audience, key, value)
    session.add(audience)
    session.commit()
    return audience


_audiences_by_role = recent.Memo("audiences by role and group", watch=(Audience,))


def visible_audiences(session: Session, user: User) -> set[str] | None:
    """Audience codes ``user`` may read; None means every audience (curators). Depends only on
    the role and group, so it is remembered per (role, group) for a second (``kb.recent``)."""
    if user.role in CURATORS:
        return None

    def read() -> frozenset[str]:
        return frozenset(a.code for a in list_audiences(session)
                         if a.active and (user.role.value in a.roles or (user.group_code and user.group_code in a.groups)))

    return set(_audiences_by_role.get((str(session.get_bind().url), user.role, user.group_code), read))


def is_curator(user: User) -> bool:
    return user.role in CURATORS
