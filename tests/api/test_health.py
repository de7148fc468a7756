from __future__ import annotations


def test_health_reports_database_and_versions(api_model):
    import time

    for _ in range(100):                 # the embedded writer builds the first index generation at start
        resp = api_model.get("/health", role="admin")
        body = resp.json()
        if body["status"] == "ok":
            break
        time.sleep(0.05)
    assert resp.status_code == 200 and body["status"] == "ok"
    assert body["model"]["version"] == api_model.model_version
    assert body["text"]["version"] == body["model"]["text_version"]
    from alembic.script import ScriptDirectory

    from kb.db import MIGRATIONS_DIR

    assert body["database"]["schema_revision"] == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert body["jobs"]["worker_here"] is True and body["jobs"]["queued"] == 0
    assert body["versions"]["chinesecalendar"]


def test_health_is_degraded_without_a_model(api):
    body = api.get("/health", role="admin").json()
    assert body["status"] == "degraded" and body["model"]["version"] is None


def test_health_without_a_key_says_only_ok_or_degraded(api_model):
    for headers in ({}, {"Authorization": "Bearer zk_00000000_" + "x" * 43}):
        resp = api_model.client.get("/health", headers=headers)
        assert resp.status_code == 200
        assert set(resp.json()) == {"status"} and resp.json()["status"] in ("ok", "degraded")
    assert set(api_model.get("/health", role="analyst").json()) == {"status"}
    detailed = api_model.get("/health", role="admin").json()
    assert {"database", "index", "model", "versions"} <= set(detailed)


def test_liveness_answers_without_the_database(api):
    api.engine.dispose()
    assert api.client.get("/health/live").json()["status"] == "ok"


def test_every_response_carries_a_request_id(api):
    resp = api.client.get("/health", headers={"X-Request-ID": "trace-1234567"})
    assert resp.headers["x-request-id"] == "trace-1234567"
    assert len(api.client.get("/health").headers["x-request-id"]) == 32


def test_taxonomy_is_editable_data(api):
    assert [x["code"] for x in api.get("/api/v1/taxonomy/type").json()] == ["咨询", "投诉", "建议", "变更", "其他"]
    created = api.post("/api/v1/taxonomy/type", role="admin",
                       json={"code": "技术故障", "name": "技术故障", "route_group": "技术支持组"})
    assert created.status_code == 201
    from tests.conftest import case_payload

    case = api.post("/api/v1/cases", json=case_payload(type="技术故障")).json()
    assert case["group"] == "技术支持组"
    assert api.patch("/api/v1/taxonomy/type/技术故障", role="admin", json={"active": False}).status_code == 200
    assert api.post("/api/v1/cases", json=case_payload(type="技术故障")).status_code == 422
