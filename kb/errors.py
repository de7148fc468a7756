"""Typed domain errors. They carry a field and a human message, never an HTTP status:
``api/errors.py`` is the only place that maps them to problem details."""

from __future__ import annotations


class DomainError(Exception):
    title = "domain error"

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class NotFound(DomainError):
    title = "未找到 Not found"


class Conflict(DomainError):
    title = "冲突 Conflict"


class InvalidTransition(Conflict):
    title = "状态不允许 Invalid status transition"

    def __init__(self, current: str, requested: str, allowed: list[str]) -> None:
        allowed_text = "、".join(allowed) if allowed else "无"
        super().__init__(
            f"当前状态「{current}」不能变为「{requested}」；允许：{allowed_text}",
            field="status",
            current_status=current,
            requested_status=requested,
            allowed=allowed,
        )


class FieldError(DomainError):
    """The payload is well-formed but a value breaks a domain rule (e.g. unknown taxonomy code)."""

    title = "字段无效 Invalid field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class TooLarge(FieldError):
    """An upload, or what it inflates to, is beyond a stated limit (HTTP 413)."""

    title = "内容过大 Content too large"


class Unauthorized(DomainError):
    title = "未认证 Unauthorized"


class Forbidden(DomainError):
    title = "无权限 Forbidden"


class TooManyRequests(DomainError):
    title = "请求过多 Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, field="authorization")
        self.retry_after = retry_after
