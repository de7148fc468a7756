"""The one place that knows HTTP statuses: domain errors and validation failures become
RFC 9457 ``application/problem+json`` bodies naming the offending field."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, Unauthorized

log = logging.getLogger("zhiku.api")

PROBLEM = "application/problem+json"
_STATUS = ((Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (Conflict, 409), (FieldError, 422))
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


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
    errors = [{"field": field_path(e.get("loc", ())), "message": e.get("msg", "invalid"), "type": e.get("type", "")}
              for e in exc.errors()]
    fields = "、".join(dict.fromkeys(e["field"] for e in errors))
    return problem(422, "请求参数无效 Validation failed", f"以下字段无效：{fields}", request, errors=errors,
                   type_="/problems/validation")


async def _domain(request: Request, exc: DomainError) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, exc.title, exc.message, request, errors=errors, headers=headers,
                   type_=f"/problems/{type(exc).__name__.lower()}", **exc.extra)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem(exc.status_code, str(exc.detail) if exc.status_code < 500 else "Server error",
                   str(exc.detail), request, headers=getattr(exc, "headers", None))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem(500, "服务器内部错误 Internal server error", "请求未完成，数据未更改；请联系管理员并提供 request_id",
                   request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unhandled)
