"""Paths that say what they match, and a 405 that tells the truth.

Why: ``/cases/export`` and ``/cases/{number}`` share a prefix, so without a shape for
``{number}`` a ``PATCH /cases/export`` was routed to the case route as case "export" (a 401 or
404 where the path has no PATCH at all), and Starlette's 405 named only the methods of the
first route it tried, not every method the path has. Path parameters that are case numbers,
model versions and integer ids are declared with convertors (``{number:case_number}``,
``{version:model_version}``, ``{article_id:int}``), and a 405 lists every method the app's
routes give the path."""

from __future__ import annotations

import re
from functools import cache

from starlette.convertors import CONVERTOR_TYPES, StringConvertor, register_url_convertor


class CaseNumberConvertor(StringConvertor):
    """Prefix letters + YYYYMMDD + a daily sequence of at least three digits (FW20240521001)."""

    regex = "[A-Za-z]{1,8}[0-9]{11,}"


class ModelVersionConvertor(StringConvertor):
    """``classifier.registry`` names versions by UTC time and a random suffix (20261122T224131Z-1a2b3c)."""

    regex = "[0-9]{8}T[0-9]{6}Z-[0-9a-f]+"


register_url_convertor("case_number", CaseNumberConvertor())
register_url_convertor("model_version", ModelVersionConvertor())

_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


@cache
def _path_table(app) -> list[tuple[re.Pattern, int, frozenset[str]]]:
    """(compiled path, number of parameters, methods) per path of the app's routes; a fixed
    segment beats a parameter, as in routing."""
    table: dict[str, tuple[re.Pattern, int, set[str]]] = {}
    for route in _routes(app.router):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or not methods:
            continue
        pattern = "^" + _PARAM.sub(lambda m: f"(?:{CONVERTOR_TYPES[m.group(2) or 'str'].regex})",
                                   re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        entry = table.setdefault(path, (re.compile(pattern), path.count("{"), set()))
        entry[2].update(methods)
    return [(regex, params, frozenset(methods)) for regex, params, methods in table.values()]


def _routes(router):
    """Plain routes and the routes of included routers (FastAPI nests them since 0.16x)."""
    for route in router.routes:
        if hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()
        else:
            yield route


def allowed_methods(app, path: str) -> list[str]:
    """Every method of the most specific path template matching ``path`` (HEAD with GET)."""
    matches = [(params, methods) for regex, params, methods in _path_table(app) if regex.match(path)]
    if not matches:
        return []
    fewest = min(params for params, _ in matches)
    methods = set().union(*(m for params, m in matches if params == fewest))
    return sorted(methods)
