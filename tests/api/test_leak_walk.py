"""The leak walk: every GET operation of the OpenAPI document, as each role outside an article's
audience, before and after a restricted article is published, linked to a case and due for
review. Its id, title and body never appear (JSON, CSV, XLSX, zip), and no count changes."""

from __future__ import annotations

import io
import json
import time
import zipfile

from kb.models import Role
from tests.api.test_articles import KM, create, publish
from tests.conftest import case_payload, wait_for
from tests.e2e.test_log_and_suggest import RESOLUTION

TITLE = "仅技术团队的税控盘密钥重置手册"
BODY_TOKEN = "密钥重置口令XK7"
OUTSIDERS = (Role.agent, Role.analyst)          # 仅技术团队 is for admins and knowledge managers
COUNT_KEYS = {"total", "count", "cases_considered", "documents", "size", "articles_total", "linked", "helpful",
              "not_helpful", "covered"}


def text_of(resp) -> str:
    """Everything a client could read in the response, archives (zip, XLSX) opened."""
    if resp.content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "ignore") for n in zf.namelist())
    return resp.content.decode("utf-8-sig", "ignore")


def walk_counts(value, path="") -> list[tuple[str, float]]:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in COUNT_KEYS and isinstance(v, int | float) and not isinstance(v, bool):
                out.append((f"{path}.{k}", v))
            out.extend(walk_counts(v, f"{path}.{k}"))
    elif isinstance(value, list):
        out.append((f"{path}[len]", len(value)))
        for i, v in enumerate(value):
            out.extend(walk_counts(v, f"{path}[{i}]"))
    return out


def article_ids(value) -> set[int]:
    """Ids of article-like objects and of article references anywhere in a JSON body."""
    found = set()
    if isinstance(value, dict):
        if "title" in value and isinstance(value.get("id"), int) and ("audience" in value or "state" in value):
            found.add(value["id"])
        for k, v in value.items():
            if "article" in k and isinstance(v, int):
                found.add(v)
            if "article" in k and isinstance(v, list):
                found.update(x for x in v if isinstance(x, int))
            found |= article_ids(v)
    elif isinstance(value, list):
        for v in value:
            found |= article_ids(v)
    return found


def operations(api) -> list[str]:
    spec = api.client.get("/openapi.json").json()
    return sorted(p for p, ops in spec["paths"].items() if "get" in ops and p.startswith("/api/v1"))


def url_for(path: str, *, number: str, article_id: int, role: Role) -> list[str]:
    filled = (path.replace("{number}", number if path.startswith("/api/v1/cases") else "1")
              .replace("{article_id}", str(article_id)).replace("{job_id}", "1").replace("{version}", "none")
              .replace("{kind}", "type").replace("{username}", f"u_{role.value}"))
    if path == "/api/v1/search":
        return [f"{filled}?q=红冲 税控盘 密钥", f"{filled}?q=红冲 税控盘 密钥&kind=article"]
    if path.endswith("/diff"):
        return [f"{filled}?from=1&to=2"]
    if path == "/api/v1/kb/gaps":
        return [f"{filled}?min_size=2"]
    if path in ("/api/v1/cases/export", "/api/v1/reports/volumes"):
        return [filled, f"{filled}?format=xlsx"] if path.endswith("export") else [filled]
    return [filled]


def walk(api, routes: list[str], *, number: str, article_id: int) -> dict:
    seen = {}
    for role in OUTSIDERS:
        for path in routes:
            for url in url_for(path, number=number, article_id=article_id, role=role):
                resp = api.get(url, role)
                assert resp.status_code < 500, (url, role, resp.status_code, resp.text[:300])
                body = text_of(resp)
                try:
                    parsed = json.loads(body) if body.strip()[:1] in ("{", "[") else None
                except ValueError:
                    parsed = None
                seen[(role, url)] = (resp.status_code, body, parsed)
    return seen


def test_no_get_route_shows_a_restricted_article_to_an_outsider(api):
    number = api.post("/api/v1/cases", json=case_payload(subject="发票红冲失败",
                                                         description="开票后无法红冲，提示税控盘密钥错误")).json()["number"]
    assert api.post(f"/api/v1/cases/{number}/resolve", json=RESOLUTION).status_code == 200
    publish(api, create(api, title="红冲发票的通用说明", audience="内部公开", body="红冲发票需要先作废原票。"))
    routes = operations(api)
    assert len(routes) >= 30, routes
    # the index writer has applied both before the first walk: otherwise a count that grew
    # because the case or the public article arrived late would look like a leak
    assert wait_for(lambda: api.get("/api/v1/search", params={"q": "红冲 税控盘"}).json()["total"]
                    and api.get("/api/v1/search", params={"q": "红冲 作废", "kind": "article"}).json()["total"])

    # the id the restricted article will get: walk the same URLs before it exists
    restricted_id = max(a["id"] for a in api.get("/api/v1/articles", KM).json()["items"]) + 1
    before = walk(api, routes, number=number, article_id=restricted_id)

    article = publish(api, create(api, title=TITLE, audience="仅技术团队", next_review_at="2020-01-01",
                                  body=f"税控盘密钥错误时的红冲步骤：{BODY_TOKEN}，先作废再重开。"))
    assert article["id"] == restricted_id
    assert api.post(f"/api/v1/articles/{restricted_id}/cases", KM, json={"case_numbers": [number]}).status_code == 200
    for _ in range(200):           # the index writer has the article: a member finds it
        if api.get("/api/v1/search", KM, params={"q": "税控盘 密钥", "kind": "article"}).json()["total"]:
            break
        time.sleep(0.05)
    assert TITLE in api.get("/api/v1/search", KM, params={"q": "税控盘 密钥", "kind": "article"}).text
    assert TITLE in api.get("/api/v1/kb/stale", KM).text

    after = walk(api, routes, number=number, article_id=restricted_id)
    leaks = []
    for key, (status, body, parsed) in after.items():
        if TITLE in body or BODY_TOKEN in body:
            leaks.append((key, "text"))
        if parsed is not None and restricted_id in article_ids(parsed):
            leaks.append((key, "id"))
        old_status, _, old_parsed = before[key]
        if status != old_status:
            leaks.append((key, f"status {old_status} → {status}"))
        elif parsed is not None and old_parsed is not None and walk_counts(parsed) != walk_counts(old_parsed):
            changed = set(walk_counts(parsed)) ^ set(walk_counts(old_parsed))
            leaks.append((key, f"counts {sorted(changed)[:4]}"))
    assert len(after) >= 2 * len(routes)
    assert leaks == [], leaks
