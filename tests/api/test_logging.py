"""Log lines name their request in both formats (JSON for machines, plain for a terminal)."""

from __future__ import annotations

import json
import logging

from api.logging import JsonFormatter, PlainFormatter


def access_record() -> logging.LogRecord:
    record = logging.LogRecord("zhiku.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update({"method": "POST", "path": "/api/v1/cases", "status": 201, "ms": 12.5})
    return record


def test_plain_access_line_names_method_path_status_and_time():
    line = PlainFormatter().format(access_record())
    assert line.endswith("zhiku.access request method=POST path=/api/v1/cases status=201 ms=12.5")


def test_json_access_line_carries_the_same_fields():
    payload = json.loads(JsonFormatter().format(access_record()))
    assert (payload["method"], payload["path"], payload["status"], payload["ms"]) == ("POST", "/api/v1/cases", 201, 12.5)
