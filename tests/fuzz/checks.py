"""A Schemathesis check of our own, loaded with SCHEMATHESIS_HOOKS by tests/fuzz/test_openapi_fuzz.py.

Schemathesis' ``positive_data_acceptance`` counts any 4xx to schema-valid data as a failure,
but a schema cannot say which taxonomy codes, case numbers or article versions exist: a 422
naming an unknown channel is the API being right. What the schema *can* be wrong about is
shape, so this check fails when schema-valid data is refused by the shape checks themselves:
a 400, or a 422 of type /problems/validation with an error that is not a domain rule stated in
words (``value_error``: a date range, a dictionary rule) or text that was only whitespace
(``string_too_short`` after trimming)."""

from __future__ import annotations

import schemathesis

DOMAIN_RULE_ERRORS = {"value_error", "string_too_short"}


@schemathesis.check
def schema_valid_data_passes_validation(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        raise AssertionError(f"schema-valid request refused as malformed: {response.text[:300]}")
    if response.status_code != 422:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"422 without a problem body: {response.text[:300]}") from None
    if body.get("type") != "/problems/validation":
        return None                       # a domain rule (unknown code, bad state), not the schema
    shape = [e for e in body.get("errors", []) if e.get("type") not in DOMAIN_RULE_ERRORS]
    if shape:
        raise AssertionError(f"schema-valid request refused by the schema checks: {shape[:3]}")
    return None
