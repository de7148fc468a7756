"""Every page, as each role sees it, checked by axe-core (bundled by axe-playwright-python):
no serious or critical accessibility violations, and no console errors (the screen fixture)."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
            for v in results.response["violations"] if v.get("impact") in SERIOUS]


def check(screen, path: str, ready: str) -> list[str]:
    page = screen.page
    page.goto(f"{screen.service.url}{path}")
    expect(page.locator(ready).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    return [f"{path}: {v}" for v in serious_violations(page)]


def test_every_page_has_no_serious_accessibility_violations(screen, service):
    page = screen.page
    case = service.api("GET", "/api/v1/cases", params={"status": "已解决", "page_size": 1}).json()["items"][0]
    article = service.api("GET", "/api/v1/articles", role="agent", params={"state": "已发布"}).json()["items"][0]
    problems = check(screen, "/login", "#key")
    screen.sign_in("agent")
    for path, ready in (("/", ".tile"), ("/workspace", "#case-form"), ("/cases", "#case-table tbody tr"),
                        (f"/cases/{case['number']}", "#history tbody tr"), ("/import", "#file"),
                        ("/knowledge", "#article-table tbody tr"), (f"/knowledge/{article['id']}", "#reader-body"),
                        ("/find?q=发票", "#case-results .result")):
        problems += check(screen, path, ready)
    page.fill("#find-q", "")                                      # the workspace with proposals showing
    page.goto(f"{service.url}/workspace")
    page.fill("#subject", "电子发票开不出来")
    page.fill("#description", "开票时提示税控盘未连接")
    expect(page.locator("#similar .hit").first).to_be_visible()
    problems += [f"/workspace with suggestions: {v}" for v in serious_violations(page)]

    screen.sign_in("knowledge_manager")
    problems += check(screen, f"/knowledge/{article['id']}", "#a-body")
    screen.sign_in("analyst")
    for path, ready in (("/reports", "#kpis .kpi"), ("/models", "#version-table tbody tr")):
        problems += check(screen, path, ready)
    screen.sign_in("admin")
    for tab, ready in (("users", "#user-table tbody tr"), ("audiences", "#audience-table tbody tr"),
                       ("taxonomy", "#label-table tbody tr"), ("dictionary", "#term-table tbody tr"),
                       ("sla", "#policy-table tbody tr")):
        problems += check(screen, f"/admin#{tab}", ready)
    assert not problems, "\n".join(problems)
