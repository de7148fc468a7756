"""Who is who: every signed-in user may read the staff directory (names for display and the
owners a case can be assigned to) — but nothing an admin alone should see."""

from __future__ import annotations

from kb.models import Role


def test_every_role_reads_names_and_groups_but_no_secrets(api):
    resp = api.patch("/api/v1/users/u_agent", role=Role.admin, json={"display_name": "李伟", "group_code": "产品支持组"})
    assert resp.status_code == 200, resp.text
    for role in Role:
        resp = api.get("/api/v1/people", role=role)
        assert resp.status_code == 200, (role, resp.text)
        people = {p["username"]: p for p in resp.json()}
        assert people["u_agent"] == {"username": "u_agent", "display_name": "李伟", "role": "agent",
                                     "group_code": "产品支持组", "active": True}
        assert set(people) >= {f"u_{r.value}" for r in Role}
    assert api.client.get("/api/v1/people").status_code == 401
