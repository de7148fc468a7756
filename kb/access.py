"""Users, API keys and role checks.

A key looks like ``zk_<prefix>_<secret>``; only the SHA-256 of the whole key is
stored (keys are 32 random bytes, so a fast hash is enough: there is nothing to
brute-force), looked up by its prefix and compared in constant time."""

from __future__ import annotations

import hashlib
import re
import hmac
import secrets
from datetime import datetime

from sqlmodel import Session, func, select

from kb import recent
from kb.db import make_session
from kb.errors import Conflict, Forbidden, NotFound, Unauthorized
from kb.models import ApiKey, Role, User, UserCreate, UserUpdate

_users_by_key = recent.Memo("users by key", watch=(User, ApiKey))

_KEY = re.compile(r"zk_([0-9a-f]{8})_[A-Za-z0-9_\-]{20,100}")
ROLE_ZH = {Role.agent: "客服专员", Role.knowledge_manager: "知识管理员", Role.analyst: "数据分析", Role.admin: "管理员"}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_user(session: Session, data: UserCreate, *, now: datetime) -> User:
    if session.exec(select(User).where(User.username == data.username)).first():
        raise Conflict(f"用户名「{data.username}」已存在", field="username")
    user = User(**data.model_dump(), created_at=now)
    session.add(user)
    session.commit()
    return user


def update_user(session: Session, username: str, data: UserUpdate, *, actor: User | None = None) -> User:
    """Apply the sent fields. Nobody may demote or deactivate themselves, and the service always
    keeps one active admin with a usable key (else only the command line could get back in)."""
    user = get_user_or_raise(session, username)
    changes = data.model_dump(exclude_unset=True)
    loses_admin = user.role == Role.admin and user.active and (
        changes.get("role", Role.admin) != Role.admin or changes.get("active", True) is False)
    if loses_admin:
        field = "role" if "role" in changes and changes["role"] != Role.admin else "active"
        if actor is not None and actor.id == user.id:
            raise Conflict("不能取消自己的管理员角色或停用自己；请让另一位管理员操作", field=field)
        if not _other_usable_admins(session, exclude_user=user.id):
            raise Conflict("这是最后一位可用的管理员，不能取消其管理员角色或停用", field=field)
    for key, value in changes.items():
        setattr(user, key, value)
    session.add(user)
    session.commit()
    return user


def _other_usable_admins(session: Session, *, exclude_user: int | None = None, exclude_key: int | None = None) -> int:
    """Active admins (other than ``exclude_user``) holding an unrevoked key (other than ``exclude_key``)."""
    stmt = (select(func.count(func.distinct(User.id))).select_from(User).join(ApiKey, ApiKey.user_id == User.id)
            .where(User.role == Role.admin, User.active == True, ApiKey.revoked_at.is_(None)))  # noqa: E712
    if exclude_user is not None:
        stmt = stmt.where(User.id != exclude_user)
    if exclude_key is not None:
        stmt = stmt.where(ApiKey.id != exclude_key)
    return session.exec(stmt).one()


def get_user_or_raise(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"用户「{username}」不存在", field="username")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.id)))


def issue_key(session: Session, user: User, *, now: datetime, note: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``user``; the plain key is returned once and never stored."""
    prefix = secrets.token_hex(4)
    plain = f"zk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(user_id=user.id, prefix=prefix, key_hash=_hash(plain), note=note, created_at=now)
    session.add(key)
    session.commit()
    return key, plain


def list_keys(session: Session, user: User) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)))


def revoke_key(session: Session, prefix: str, *, now: datetime, actor_key: str | None = None) -> ApiKey:
    """Revoke a key. The key of the request itself and the last usable admin key are refused
    (409): either would lock the admins out of the API."""
    key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None:
        raise NotFound(f"密钥 {prefix} 不存在", field="prefix")
    if key.revoked_at is None:
        if actor_key is not None and key.prefix == actor_key:
            raise Conflict("不能吊销本次请求正在使用的密钥；请用另一把管理员密钥操作", field="prefix")
        owner = session.get(User, key.user_id)
        if owner is not None and owner.role == Role.admin and owner.active \
                and not _other_usable_admins(session, exclude_key=key.id):
            raise Conflict("这是最后一把可用的管理员密钥，不能吊销；请先为管理员签发新密钥", field="prefix")
        key.revoked_at = now
        session.add(key)
        session.commit()
    return key


def key_prefix(plain: str | None) -> str | None:
    """The prefix of a well-formed key, else None."""
    match = _KEY.fullmatch(plain or "")
    return match.group(1) if match else None


def authenticate(session: Session, plain: str | None) -> User:
    if not plain:
        raise Unauthorized("缺少 API 密钥：请在 Authorization: Bearer <key> 或 X-API-Key 头中提供")
    prefix = key_prefix(plain)
    if prefix is None:
        raise Unauthorized("API 密钥格式无效")
    key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, _hash(plain)):
        raise Unauthorized("API 密钥无效或已吊销")
    user = session.get(User, key.user_id)
    if user is None or not user.active:
        raise Unauthorized("该密钥所属用户已停用")
    return user


def user_for_key(engine, plain: str | None) -> User:
    """``authenticate`` through the per-process memo (``kb.recent``): a request's key costs no
    database read when the same key was seen within the last second. Failures are never
    remembered. Each call gets its own detached copy, so no request can change another's."""
    if key_prefix(plain) is None:
        with make_session(engine) as session:
            return authenticate(session, plain)       # raises the right message

    def look_up() -> dict:
        with make_session(engine) as session:
            return authenticate(session, plain).model_dump()

    return User(**_users_by_key.get((str(engine.url), _hash(plain)), look_up))


def require_role(user: User, allowed: frozenset[Role]) -> None:
    if user.role == Role.admin or user.role in allowed:
        return
    names = "、".join(ROLE_ZH[r] for r in sorted(allowed, key=lambda r: r.value))
    raise Forbidden(f"当前角色「{ROLE_ZH[user.role]}」无权执行此操作；需要：{names}", field="role")


def has_users(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(User)).one() > 0


def ensure_admin(session: Session, *, now: datetime, username: str = "admin") -> str | None:
    """On a database with no admin, create one and return its plain key (printed once)."""
    admin = session.exec(select(User).where(User.role == Role.admin, User.active == True)).first()
    if admin is not None:
        return None
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = create_user(session, UserCreate(username=username, display_name="系统管理员", role=Role.admin), now=now)
    _, plain = issue_key(session, user, now=now, note="bootstrap")
    return plain
