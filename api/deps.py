"""Dependencies handed to routes with ``Annotated``; heavy objects come from app.state,
built once in the lifespan."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlmodel import Session

from classifier.predictor import Predictor
from classifier.registry import ModelRegistry
from indexer import WhooshIndex
from kb.access import key_prefix, require_role, user_for_key
from kb.cases.service import CaseRules
from kb.clock import Clock
from kb.db import make_session
from kb.errors import TooManyRequests, Unauthorized
from kb.models import Role, User
from kb.models.inputs import INT32_MAX
from kb.suggestion_log import SuggestionLogWriter

_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer zk_…")
_header_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """A session per request. Use cases commit themselves; this only closes (and so rolls back
    anything uncommitted, e.g. after an error). Write requests take SQLite's write lock up front."""
    yield from _closed_after(make_session(request.app.state.engine, write=request.method in _WRITE_METHODS))


def _closed_after(session: Session) -> Iterator[Session]:
    """The request's session, closed when the request is done (also after an error)."""
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

# A row id or version number in a path: positive and within a 32-bit column, so a huge number is
# a 422 naming the parameter, not a database overflow.
Id = Annotated[int, Path(ge=1, le=INT32_MAX)]


def _iso_date(value: object) -> object:
    # pydantic would read "0" or "1700000000" as a Unix time: a query date must be written out.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("日期格式应为 YYYY-MM-DD")
    return value


def _true_or_false(value: object) -> object:
    # the schema says boolean: "true" or "false", not "0", "on" or "yes".
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("应为 true 或 false")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
QueryDate = Annotated[date, BeforeValidator(_iso_date)]
QueryFlag = Annotated[bool, BeforeValidator(_true_or_false)]


def get_read_session(request: Request) -> Iterator[Session]:
    """A session that never takes the write lock, for POSTs that mostly compute (suggestions,
    classification): holding SQLite's single write lock through ~10 ms of ranking would
    serialise every worker behind it. Such endpoints write their log in a short session of their own."""
    yield from _closed_after(make_session(request.app.state.engine))


def get_statement_session(request: Request) -> Iterator[Session]:
    """``get_read_session`` where each statement may read on its own (``kb.db.make_session``,
    ``read_only``): on PostgreSQL no BEGIN and ROLLBACK around a suggestion's or a proposal's
    reads. Not for answers whose parts must agree (a count beside its rows)."""
    yield from _closed_after(make_session(request.app.state.engine, read_only=True))


ReadSessionDep = Annotated[Session, Depends(get_read_session)]
StatementSessionDep = Annotated[Session, Depends(get_statement_session)]


# Getters that only read app.state are ``async``: FastAPI runs plain ``def`` dependencies in the
# thread pool, a thread hop per dependency per request for nothing.


async def get_rules(request: Request) -> CaseRules:
    return request.app.state.case_rules


async def get_clock(request: Request) -> Clock:
    return request.app.state.case_rules.clock


RulesDep = Annotated[CaseRules, Depends(get_rules)]


async def get_predictor(request: Request) -> Predictor:
    return request.app.state.predictor


async def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


async def get_index(request: Request) -> WhooshIndex:
    return request.app.state.index


async def get_suggestion_log(request: Request) -> SuggestionLogWriter:
    return request.app.state.suggestion_log


PredictorDep = Annotated[Predictor, Depends(get_predictor)]
IndexDep = Annotated[WhooshIndex, Depends(get_index)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SuggestionLogDep = Annotated[SuggestionLogWriter, Depends(get_suggestion_log)]


def _key(bearer: HTTPAuthorizationCredentials | None, header_key: str | None) -> str | None:
    return bearer.credentials if bearer else header_key


def _authenticate(request: Request, plain: str | None) -> User:
    """The one way a key becomes a user: failed attempts count towards the client's throttle."""
    client = request.client.host if request.client else "unknown"
    throttle = request.app.state.auth_throttle
    # A separate short session: authentication must not hold the request's write lock open.
    try:
        user = user_for_key(request.app.state.engine, plain)
    except Unauthorized:
        if not plain:                 # no key at all is a plain 401: nothing was tried
            raise
        wait = throttle.retry_after(client)          # already over the limit before this one?
        throttle.failed(client)
        if wait is not None:
            raise TooManyRequests(f"认证失败次数过多，请 {wait} 秒后再试", retry_after=wait) from None
        raise
    request.state.user = user.username
    request.state.key_prefix = key_prefix(plain)
    return user


def current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_header_key)],
) -> User:
    return _authenticate(request, _key(bearer, header_key))


def optional_user(request: Request) -> User | None:
    """For routes that answer everyone but tell more to some (/health): the same
    authentication and throttle as every other route; no key, a bad key, a throttled client
    or an unreachable database all mean "anonymous" here. The key is read from the headers
    directly, not through the security schemes, so the OpenAPI document does not claim the
    route needs one."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    plain = credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
    plain = plain or request.headers.get("x-api-key") or None
    if not plain:
        return None
    try:
        return _authenticate(request, plain)
    except (Unauthorized, TooManyRequests, OperationalError, InterfaceError, SATimeoutError):
        return None


def require(*roles: Role) -> Callable[..., User]:
    """Dependency: the caller must hold one of ``roles`` (admin always may)."""
    allowed = frozenset(roles)

    async def _check(user: Annotated[User, Depends(current_user)]) -> User:
        require_role(user, allowed)
        return user

    _check.roles = allowed  # type: ignore[attr-defined]  # read by the route-role test
    return _check


ALL_ROLES = (Role.agent, Role.knowledge_manager, Role.analyst, Role.admin)
AnyUser = Annotated[User, Depends(require(*ALL_ROLES))]
MaybeUser = Annotated[User | None, Depends(optional_user)]
Agent = Annotated[User, Depends(require(Role.agent))]
Admin = Annotated[User, Depends(require(Role.admin))]
Analyst = Annotated[User, Depends(require(Role.analyst))]
KnowledgeManager = Annotated[User, Depends(require(Role.knowledge_manager))]
Triager = Annotated[User, Depends(require(Role.agent, Role.analyst))]
