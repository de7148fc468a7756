"""Control characters in the URL, refused before any route sees them (pure ASGI, no body read).

Request bodies are checked by ``kb.models.inputs.Input``; this applies the same rule to the
URL: a query parameter holding a control character is a 422 naming the parameter (the OpenAPI
document states the rule as a ``pattern``), and a path holding one is a 404 — no case number,
article id or code contains one, and PostgreSQL could not even compare such a value (NUL)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from kb.models.inputs import CONTROL_CHARACTERS, CONTROL_MESSAGE

PROBLEM = b"application/problem+json"


def bad_query_parameters(raw: bytes) -> list[str]:
    """Names of the query parameters whose name or value holds a control character (or bytes
    that are not UTF-8, which decode to lone surrogates)."""
    if not raw:
        return []
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
    return list(dict.fromkeys(CONTROL_CHARACTERS.sub("?", k) for k, v in pairs
                              if CONTROL_CHARACTERS.search(k) or CONTROL_CHARACTERS.search(v)))


class ControlCharacterFilter:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if CONTROL_CHARACTERS.search(scope["path"]):
            await _problem(send, scope, 404, "未找到 Not found", "路径中含有控制字符，没有这样的资源",
                           [{"field": "path", "message": CONTROL_MESSAGE}])
            return
        bad = bad_query_parameters(scope.get("query_string", b""))
        if bad:
            await _problem(send, scope, 422, "请求参数无效 Validation failed", f"以下字段无效：{'、'.join(bad)}",
                           [{"field": name, "message": CONTROL_MESSAGE, "type": "string_pattern_mismatch"}
                            for name in bad], type_="/problems/validation")
            return
        await self.app(scope, receive, send)


async def _problem(send, scope, status: int, title: str, detail: str, errors: list[dict],
                   type_: str = "about:blank") -> None:
    body = json.dumps({"type": type_, "title": title, "status": status, "detail": detail,
                       "instance": CONTROL_CHARACTERS.sub("?", scope["path"]), "errors": errors},
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
