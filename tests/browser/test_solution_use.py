"""用这个方案 in the browser: the agent copies a similar case's solution while logging, the
case page starts its resolve form from it and shows what was used (rank as shown), and an
article's solution is used from the case page."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_agent_uses_suggested_solutions_while_logging_and_on_the_case_page(screen, service):
    page = screen.page
    screen.sign_in("agent")
    page.fill("#customer_name", "宁波海曙惠民药房连锁有限公司")
    page.select_option("#customer_kind", "企业客户")
    page.fill("#subject", "仓库员工签到总说不在考勤范围")
    page.fill("#description", "外地仓库的员工用App签到，一直提示不在考勤范围内，报错E1024，这周好几个人被记迟到")
    second = page.locator("#similar .hit").nth(1)
    expect(second).to_be_visible()
    number = second.locator("a.title").inner_text()
    source = service.api("GET", f"/api/v1/cases/{number}").json()
    second.locator("button.use-solution").click()
    expect(second.locator("button.use-solution")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#solution_temp")).to_have_value(re.compile(re.escape(source["solution_temp"][:15])))
    expect(page.locator("#used-note")).to_contain_text(number)
    page.click("#accept-type")
    page.click("#accept-priority")
    page.click("#save")
    saved = page.locator("#saved-number")
    expect(saved).to_have_text(re.compile(r"^FW\d{11}$"))
    new = saved.inner_text()
    uses = service.api("GET", f"/api/v1/cases/{new}/solution-uses").json()
    assert [(u["case"], u["rank"], u["place"]) for u in uses] == [(number, 2, "workspace")]

    page.goto(f"{service.url}/cases/{new}")
    solution = page.locator("#resolve-form [name=solution_temp]")
    expect(solution).to_have_value(re.compile(re.escape(source["solution_temp"][:15])))   # starts from the draft
    expect(page.locator("#case-used")).to_contain_text(number)
    expect(page.locator("#case-used")).to_contain_text("第 2 位")
    article = page.locator("#case-articles .hit").first
    expect(article).to_be_visible()
    article.locator("button.use-solution").click()
    expect(article.locator("button.use-solution")).to_have_attribute("aria-pressed", "true")
    expect(solution).to_have_value(re.compile("参考知识库《"))
    uses = service.api("GET", f"/api/v1/cases/{new}/solution-uses").json()
    assert [(u["source_kind"], u["place"], u["rank"]) for u in uses] == [("case", "workspace", 2), ("article", "case", 1)]
    screen.shot("solution-use-case-page")
