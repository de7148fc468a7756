"""API keys, roles and the 401/403 problem bodies; every route declares its roles."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from tests.conftest import case_payload


def test_missing_key_is_401_problem(api):
    resp = api.client.get("/api/v1/cases")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_wrong_and_revoked_keys_are_401(api):
    assert api.client.get("/api/v1/cases", headers={"X-API-Key": "zk_deadbeef_nope"}).status_code == 401
    assert api.client.get("/api/v1/cases", headers={"Authorization": "Bearer garbage"}).status_code == 401
    issued = api.post("/api/v1/users/u_agent/keys", role="admin", json={"note": "临时"}).json()
    headers = {"X-API-Key": issued["key"]}
    assert api.client.get("/api/v1/me", headers=headers).json()["username"] == "u_agent"
    assert api.client.delete(f"/api/v1/keys/{issued['prefix']}", headers=api.as_("admin")).status_code == 200
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401


def test_keys_are_stored_hashed(api):
    from sqlmodel import select

    from kb.db import make_session
    from kb.models import ApiKey

    with make_session(api.engine) as s:
        hashes = [k.key_hash for k in s.exec(select(ApiKey))]
    assert all(len(h) == 64 for h in hashes)
    assert not any(h in api.keys.values() for h in hashes)


@pytest.mark.parametrize(("role", "method", "url", "payload", "status"), [
    ("analyst", "post", "/api/v1/cases", case_payload(), 403),
    ("knowledge_manager", "post", "/api/v1/cases", case_payload(), 403),
    ("agent", "post", "/api/v1/cases", case_payload(), 201),
    ("admin", "post", "/api/v1/cases", case_payload(), 201),
    ("agent", "post", "/api/v1/taxonomy/type", {"code": "售后", "name": "售后"}, 403),
    ("admin", "post", "/api/v1/taxonomy/type", {"code": "售后", "name": "售后"}, 201),
    ("agent", "get", "/api/v1/users", None, 403),
    ("analyst", "get", "/api/v1/cases", None, 200),
    ("knowledge_manager", "get", "/api/v1/taxonomy", None, 200),
])
def test_role_checks(api, role, method, url, payload, status):
    kwargs = {"json": payload} if payload is not None else {}
    resp = getattr(api, method)(url, role=role, **kwargs)
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.json()["errors"][0]["field"] == "role"


def test_disabled_user_is_locked_out(api):
    assert api.patch("/api/v1/users/u_agent", role="admin", json={"active": False}).status_code == 200
    assert api.get("/api/v1/cases").status_code == 401


def test_every_api_route_declares_its_roles():
    app = create_app()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            declared = [d.call for d in route.dependant.dependencies if hasattr(d.call, "roles")]
            assert declared, f"{route.path} declares no role"
