"""The OpenAPI document, made true in one place.

FastAPI documents what a route declares; what every route can also answer comes from the
layers around it, so it is added here for every operation rather than repeated on each:

* errors are ``application/problem+json`` (RFC 9457) with the ``Problem`` schema;
* every /api/v1 operation may answer 401 (no or bad key), 403 (role), 422 (validation),
  429 (too many failed sign-ins) and 503 (database unavailable, with Retry-After);
  a body that cannot be parsed is a 400; operations with a path parameter or a body may answer 404 (the thing named is not there);
  writes may answer 409 (a conflict: duplicate, stale version, illegal transition, the last
  admin); uploads may answer 413 (too large) and 415 (not a file type we read);
* request strings may not hold control characters (``kb.models.inputs``): every string of a
  request body and every string query parameter carries that rule as a ``pattern``.

``tests/api/test_openapi_fuzz.py`` holds the document to this with Schemathesis."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.schemas import Problem
from kb.models.inputs import NO_CONTROL_PATTERN

PROBLEM = "application/problem+json"
WRITES = {"post", "put", "patch", "delete"}
DESCRIPTIONS = {
    "400": "请求体无法解析（不是合法的 JSON 或表单）", "401": "缺少或无效的 API 密钥", "403": "当前角色无权执行此操作", "404": "不存在（或当前用户不可见）",
    "409": "冲突：重复、版本已变、状态不允许或最后一位管理员", "413": "文件或内容过大", "415": "不支持的文件类型",
    "422": "字段无效（errors 列出每个字段）", "429": "失败的认证过多，请按 Retry-After 稍后再试",
    "503": "数据库暂不可用，请按 Retry-After 稍后再试",
}


def _problem_response(code: str, existing: dict | None = None) -> dict:
    return {"description": (existing or {}).get("description") or DESCRIPTIONS.get(code, "错误"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _statuses(path: str, method: str, operation: dict) -> set[str]:
    if not path.startswith("/api/"):
        return set()
    codes = {"401", "403", "422", "429", "503"}
    has_path_parameter = any(p.get("in") == "path" for p in operation.get("parameters", []))
    if has_path_parameter or method in WRITES:
        codes.add("404")
    if method in WRITES:
        codes.add("409")
    if operation.get("requestBody"):
        codes.add("400")              # a body that is not JSON (or not a form) at all
    body = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in body:
        codes |= {"413", "415"}
    return codes


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _add_pattern(schema: dict) -> None:
    """Give every plain string in a (request) schema the no-control-characters pattern."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema \
            and "pattern" not in schema and "const" not in schema:
        schema["pattern"] = NO_CONTROL_PATTERN
    for key in ("properties",):
        for sub in schema.get(key, {}).values():
            _add_pattern(sub)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            _add_pattern(sub)
    if isinstance(schema.get("items"), dict):
        _add_pattern(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        _add_pattern(schema["additionalProperties"])


def make_true(document: dict) -> dict:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
    components.update(Problem.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}))
    components["Problem"].pop("$defs", None)
    request_schemas: set[str] = set()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in _statuses(path, method, operation):
                responses.setdefault(code, {})
            for code, response in list(responses.items()):
                if code[0] in "45":
                    responses[code] = _problem_response(code, response)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _add_pattern(parameter.get("schema", {}))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _refs(media.get("schema", {}), request_schemas)
                _add_pattern(media.get("schema", {}))
    seen: set[str] = set()
    while request_schemas - seen:            # schemas a request body refers to, transitively
        name = (request_schemas - seen).pop()
        seen.add(name)
        if name in components:
            _refs(components[name], request_schemas)
    for name in seen:
        if name in components and name != "Problem" and not name.startswith("Body_"):
            _add_pattern(components[name])
    return document


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = make_true(get_openapi(
                title=app.title, version=app.version, summary=app.summary, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
