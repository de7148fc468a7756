"""An agent's day beyond logging: find anything from the top bar, work a case from its page
(assign, reprioritise, retag — with history and recomputed due times) and pick the next case
from the queue on the home page."""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import expect


def _new_case(service, **overrides) -> dict:
    payload = {"channel": "电话", "customer_name": "苏州恒达超市", "subject": "扫码枪读不出条码",
               "description": "收银台的扫码枪扫商品条码没有反应，换了数据线也一样，订单 SO-77001 的商品无法结账",
               "order_number": "SO-77001", "type": "投诉", "priority": "低", "tags": ["收银", "扫码枪"]} | overrides
    resp = service.api("POST", "/api/v1/cases", role="agent", json=payload)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_agent_finds_a_case_by_number_and_by_words(screen, service):
    page = screen.page
    case = _new_case(service)
    screen.sign_in("agent")
    page.fill("#find-q", case["number"])
    page.press("#find-q", "Enter")
    expect(page).to_have_url(re.compile(rf"/cases/{case['number']}$"))     # a number jumps to the case
    expect(page.locator("#case-title")).to_contain_text("扫码枪读不出条码")

    page.fill("#find-q", "扫码枪 结账")
    page.press("#find-q", "Enter")
    expect(page).to_have_url(re.compile(r"/find\?q="))
    hit = page.locator("#case-results .result", has_text=case["number"])
    expect(hit).to_be_visible()                                               # an open case, found by its words
    expect(hit.locator("mark").first).to_have_text(re.compile("扫码枪|结账"))
    expect(hit).to_contain_text("收银")                                       # its tags, as chips
    assert "[object" not in hit.inner_text()
    screen.shot("13-find")

    page.fill("#fq", "发票")
    page.click("#find-filters button[type=submit]")
    expect(page.locator("#article-results .result").first).to_be_visible()    # articles the agent may read
    expect(page.locator("#case-count")).to_have_text(re.compile(r"^\d+ 条$"))

    page.goto(f"{service.url}/cases?q=SO-77001")                               # the case list takes a keyword
    expect(page.locator("#case-table tbody tr")).to_have_count(1)
    expect(page.locator("#case-table tbody tr")).to_contain_text(case["number"])


def test_agent_works_a_case_and_picks_the_next_from_the_queue(screen, service):
    page = screen.page
    case = _new_case(service, subject="会员卡余额显示为零", description="会员卡充值500元后余额显示0，客户很着急",
                     order_number="SO-77002", tags=["会员"])
    before = service.api("GET", f"/api/v1/cases/{case['number']}").json()
    screen.sign_in("agent", then=f"/cases/{case['number']}")
    expect(page.locator("#w-priority")).to_have_value("低")
    page.click("#assign-me")
    expect(page.locator("#case-fields")).to_contain_text("李伟 / ")          # display names, not usernames
    expect(page.locator("#w-owner")).to_have_value("liwei")
    page.select_option("#w-priority", "高")
    page.fill("#w-tags", "会员，余额")
    page.click("#work-save")
    expect(page.locator("#case-meta .badge")).to_have_text("高")
    history = page.locator("#history")
    expect(history).to_contain_text("低 → 高")
    expect(history).to_contain_text("会员、余额")
    expect(history).to_contain_text("SLA 重算")
    screen.shot("14-case-work")

    after = service.api("GET", f"/api/v1/cases/{case['number']}").json()
    assert after["owner"] == "liwei" and after["priority"] == "高" and after["tags"] == ["会员", "余额"]
    assert datetime.fromisoformat(after["response_due_at"]) < datetime.fromisoformat(before["response_due_at"])

    page.goto(f"{service.url}/")
    mine = page.locator("#my-queue tbody tr", has_text=case["number"])
    expect(mine).to_be_visible()
    group_owners = page.locator("#group-queue tbody tr td:nth-child(4)").all_inner_texts()
    assert group_owners and not any(re.fullmatch(r"[a-z_]+", o) for o in group_owners), group_owners
    due_cells = page.locator("#my-queue tbody tr td:last-child").all_inner_texts()
    stamps = [re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", t).group(0) for t in due_cells if re.match(r"\d{4}", t)]
    assert len(stamps) >= 2 and stamps == sorted(stamps), due_cells             # most urgent first
    expect(page.locator("#group-queue tbody tr").first).to_be_visible()
    screen.shot("15-home-queues")


def test_agent_sees_the_customers_earlier_cases_while_logging(screen, service):
    page = screen.page
    earlier = _new_case(service, contact="13755556666", customer_name="吴先生", subject="门锁蓝牙连不上",
                        description="门锁App一直搜索不到设备，已经重启过手机", order_number=None, tags=[])
    screen.sign_in("agent")
    page.fill("#customer_name", "吴先生")
    page.fill("#contact", "+86 137 5555 6666")                     # written differently from the first time
    box = page.locator("#customer-history")
    expect(box).to_be_visible()
    expect(box.locator("tbody tr", has_text=earlier["number"])).to_be_visible()
    expect(box).to_contain_text("门锁蓝牙连不上")
    screen.shot("17-workspace-customer-history")
    page.fill("#contact", "13700000000")                            # another customer: nothing to show
    expect(box).to_be_hidden()
