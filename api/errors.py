"""The one place that knows HTTP statuses: domain errors and validation failures become
RFC 9457 ``application/problem+json`` bodies naming the offending field."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import messages
from kb.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
)

log = logging.getLogger("zhiku.api")

PROBLEM = "application/problem+json"
_STATUS = ((Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (Conflict, 409), (TooLarge, 413),
           (FieldError, 422),
           (TooManyRequests, 429))
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def problem(status: int, title: str, detail: str, request: Request, *, errors: list[dict[str, str]] | None = None,
            type_: str = "about:blank", headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail,
                            "instance": request.url.path}
    if errors is not None:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        field = field_path(e.get("loc", ()))
        name = messages.label(field)
        errors.append({"field": field, "label": name, "message": f"{name}：{messages.message(e)}",
                       "type": e.get("type", "")})
    listed = "；".join(dict.fromkeys(e["message"] for e in errors))
    return problem(422, "请求参数无效 Validation failed", f"请检查：{listed}", request, errors=errors,
                   type_="/problems/validation")


async def _domain(request: Request, exc: DomainError) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(status, exc.title, exc.message, request, errors=errors, headers=headers,
                   type_=f"/problems/{type(exc).__name__.lower()}", **exc.extra)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:          # every method the path has, not only the first route's
        from api.routing import allowed_methods

        headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
    return problem(exc.status_code, str(exc.detail) if exc.status_code < 500 else "Server error",
                   str(exc.detail), request, headers=headers or None)


RETRY_AFTER_SECONDS = 5


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down, restarting, unreachable or its pool is exhausted: the client may
    try again (no data was changed: the transaction did not commit)."""
    log.warning("database unavailable", extra={"path": request.url.path, "error": type(exc).__name__})
    return problem(503, "服务暂不可用 Service unavailable", "数据库暂时无法访问，请稍后重试；本次请求未保存任何更改",
                   request, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, type_="/problems/database-unavailable")


async def _data_error(request: Request, exc: DataError) -> JSONResponse:
    """A value the database refuses (out of a column's range, an encoding it cannot store). Input
    models bound and clean values before they get here; this is the net under them."""
    log.warning("database refused a value", extra={"path": request.url.path, "error": str(exc.orig)[:200]})
    return problem(422, "请求参数无效 Validation failed", "某个值超出了数据库允许的范围或格式", request,
                   errors=[{"field": "body", "message": "值超出允许范围或含有无法保存的字符"}],
                   type_="/problems/validation")


async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    """A uniqueness or reference rule caught by the database (two requests racing for the same code)."""
    log.warning("integrity conflict", extra={"path": request.url.path, "error": str(exc.orig)[:200]})
    return problem(409, "冲突 Conflict", "与已有数据冲突（可能是并发的同一操作），请刷新后重试", request,
                   type_="/problems/conflict")


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem(500, "服务器内部错误 Internal server error", "请求未完成，数据未更改；请联系管理员并提供 request_id",
                   request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unhandled)
