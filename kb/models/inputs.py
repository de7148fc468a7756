"""What every request body has in common, in one place.

* Unknown fields are refused (``extra="forbid"``): a typo in a field name is a client bug.
* Control characters are **refused** with a 422 naming the field: C0 (except tab, line feed
  and carriage return), DEL, C1 and lone surrogates. PostgreSQL cannot store NUL at all, XLSX
  cannot hold most C0 characters, and none of them mean anything in a case or an article. The
  same rule holds on every backend, and the OpenAPI document states it as a ``pattern`` on
  every request string (``api/openapi.py``), so clients can check before they send.
* Types are strict where coercion would hide a client bug: ``Flag`` accepts only true/false
  (not 0, 1 or "yes"), ``json_int`` only a JSON integer within its bounds (ids and versions:
  ``PositiveInt32``, a 32-bit column).
* A field typed without ``None`` but defaulting to ``None`` (``active: Flag = None``) may be
  left out of a PATCH but not sent as ``null``: the column is NOT NULL, so an explicit null
  is a 422 naming the field, never a database error.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, field_validator
from sqlmodel import SQLModel

# C0 without \t \n \r, DEL, C1, and lone surrogates (which no database can encode).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The same rule as a JSON-Schema (ECMA 262) pattern for the OpenAPI document.
NO_CONTROL_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
CONTROL_MESSAGE = "含有不允许的控制字符（只允许制表符和换行）"
INT32_MAX = 2**31 - 1            # the widest integer column on every backend (PostgreSQL INTEGER)


def _json_integer(value: Any) -> Any:
    # JSON Schema's "integer" is a number without a fraction (4 or 4.0), never true or "4"
    if isinstance(value, bool | str):
        raise ValueError("应为整数")
    return value


def json_int(ge: int, le: int) -> Any:
    """A JSON integer in [ge, le]; the bounds come before the validator so the schema states them."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_json_integer)]


Flag = StrictBool
PositiveInt32 = json_int(1, INT32_MAX)


def clean_text(value: str) -> str:
    """``value`` without control characters: for text that is not a request (old rows, files)."""
    return CONTROL_CHARACTERS.sub("", value)


def clean(value: Any) -> Any:
    """Strings anywhere in a JSON-like value, cleaned (for stored text, never for requests)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    return value


def has_control_characters(value: Any) -> bool:
    """True when a string anywhere in a JSON-like value holds a control character."""
    if isinstance(value, str):
        return CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, list):
        return any(has_control_characters(v) for v in value)
    if isinstance(value, dict):
        return any(has_control_characters(k) or has_control_characters(v) for k, v in value.items())
    return False


class Input(SQLModel):
    """Base of every request body (a test checks that each route's body derives from it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if has_control_characters(value):
            raise ValueError(CONTROL_MESSAGE)
        return value
