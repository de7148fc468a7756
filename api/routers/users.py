"""/api/v1/users: accounts, roles and API keys (admin only); /api/v1/people: who is who, for everyone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.deps import Admin, AnyUser, ClockDep, SessionDep
from api.schemas import PROBLEM_RESPONSES, IssuedKey, KeyPublic, KeyRequest
from kb import access
from kb.models import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/api/v1", tags=["users"], responses=PROBLEM_RESPONSES)


@router.get("/me", response_model=UserPublic, operation_id="users-me")
def me(user: AnyUser) -> UserPublic:
    return UserPublic.model_validate(user)


class Person(BaseModel):
    username: str
    display_name: str
    role: str
    group_code: str | None
    active: bool


@router.get("/people", response_model=list[Person], operation_id="users-people")
def people(session: SessionDep, _user: AnyUser) -> list[Person]:
    """同事名录（任何登录用户可读）：用户名、显示名、角色、处理组。页面用它显示姓名而不是用户名，
    并列出可分派的负责人；不含密钥或创建时间。"""
    return [Person(username=u.username, display_name=u.display_name, role=u.role.value, group_code=u.group_code,
                   active=u.active) for u in access.list_users(session)]


@router.get("/users", response_model=list[UserPublic], operation_id="users-list")
def list_users(session: SessionDep, _admin: Admin) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in access.list_users(session)]


@router.post("/users", status_code=201, response_model=UserPublic, operation_id="users-create")
def create_user(data: UserCreate, session: SessionDep, _admin: Admin, clock: ClockDep) -> UserPublic:
    return UserPublic.model_validate(access.create_user(session, data, now=clock.now()))


@router.patch("/users/{username}", response_model=UserPublic, operation_id="users-update")
def update_user(username: str, data: UserUpdate, session: SessionDep, admin: Admin) -> UserPublic:
    """改显示名、角色、处理组或停用。不能取消自己的管理员角色或停用自己；最后一位可用的管理员不能被取消（409）。"""
    return UserPublic.model_validate(access.update_user(session, username, data, actor=admin))


@router.post("/users/{username}/keys", status_code=201, response_model=IssuedKey, operation_id="users-issue-key")
def issue_key(username: str, data: KeyRequest, session: SessionDep, _admin: Admin, clock: ClockDep) -> IssuedKey:
    """签发新密钥；明文只在此响应中出现一次。"""
    user = access.get_user_or_raise(session, username)
    key, plain = access.issue_key(session, user, now=clock.now(), note=data.note)
    return IssuedKey(prefix=key.prefix, key=plain, username=user.username, role=user.role.value,
                     created_at=key.created_at)


@router.get("/users/{username}/keys", response_model=list[KeyPublic], operation_id="users-list-keys")
def list_keys(username: str, session: SessionDep, _admin: Admin) -> list[KeyPublic]:
    user = access.get_user_or_raise(session, username)
    return [KeyPublic.model_validate(k, from_attributes=True) for k in access.list_keys(session, user)]


@router.delete("/keys/{prefix}", response_model=KeyPublic, operation_id="users-revoke-key")
def revoke_key(prefix: str, request: Request, session: SessionDep, _admin: Admin, clock: ClockDep) -> KeyPublic:
    """吊销密钥。本次请求所用的密钥和最后一把可用的管理员密钥不能吊销（409）。"""
    key = access.revoke_key(session, prefix, now=clock.now(), actor_key=getattr(request.state, "key_prefix", None))
    return KeyPublic.model_validate(key, from_attributes=True)
