"""Validation problems speak Chinese and name each field by its label on the page; the
English ``type`` stays for programs."""

from __future__ import annotations

import re

from api.messages import LABELS
from tests.conftest import case_payload

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def errors_of(resp) -> dict[str, str]:
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert "Field required" not in body["detail"] and "Input should" not in body["detail"]
    return {e["field"]: e["message"] for e in body["errors"]}


def test_a_missing_field_is_named_by_its_label(api):
    found = errors_of(api.post("/api/v1/cases", json={}))
    assert found["customer_name"] == "客户姓名/公司：必填"
    assert found["description"] == "客户需求描述：必填"
    detail = api.post("/api/v1/cases", json={}).json()["detail"]
    assert detail.startswith("请检查：") and "客户姓名/公司：必填" in detail


def test_limits_types_and_choices_in_chinese(api):
    found = errors_of(api.post("/api/v1/cases", json=case_payload(subject="长" * 1000, contact_at="昨天下午",
                                                                  customer_name=None)))
    assert re.fullmatch(r"沟通事由：最多 \d+ 个字", found["subject"]), found
    assert found["contact_at"].startswith("沟通时间：日期时间格式不正确")
    assert found["customer_name"].startswith("客户姓名/公司：")
    assert errors_of(api.get("/api/v1/cases?page=0"))["page"] == "页码：不能小于 1"
    assert errors_of(api.get("/api/v1/cases?page_size=abc"))["page_size"] == "每页条数：应为整数"
    kind = errors_of(api.get("/api/v1/jobs?kind=everything"))["kind"]
    assert kind == "类别：应为以下之一：train、import、rebuild"


def test_every_message_of_a_batch_of_bad_inputs_is_chinese(api):
    bad = [api.post("/api/v1/cases", json=case_payload(tags=[1, 2], attachments="x", nps_score=99)),
           api.client.post("/api/v1/cases", content=b"{not json",
                           headers={**api.as_("agent"), "Content-Type": "application/json"}),
           api.post("/api/v1/cases", json=case_payload(unknown_field="x")),
           api.get("/api/v1/cases?date_from=2026-13-40"),
           api.get("/api/v1/cases?overdue=maybe")]
    for resp in bad:
        assert resp.status_code == 422, resp.text
        for error in resp.json()["errors"]:
            assert CHINESE.search(error["message"]), error
            assert "Input should" not in error["message"] and "Field required" not in error["message"]


def test_every_request_field_has_a_label(api):
    spec = api.client.app.openapi()
    names: set[str] = set()

    def walk(schema, seen):
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(spec["components"]["schemas"][name], seen)
            return
        for key, value in schema.get("properties", {}).items():
            names.add(key)
            walk(value, seen)
        for key in ("items", "additionalProperties"):
            walk(schema.get(key), seen)
        for key in ("anyOf", "allOf", "oneOf"):
            for part in schema.get(key, []):
                walk(part, seen)

    for operations in spec["paths"].values():
        for method, op in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            names.update(p["name"] for p in op.get("parameters", []))
            for content in op.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), set())
    assert names, "no request fields found"
    missing = sorted(n for n in names if n not in LABELS and n.lower() not in LABELS)
    assert not missing, f"fields without a Chinese label: {missing}"
