"""Keyboard and layout: Ctrl+Enter saves from the description, "/" goes to search, every page
fits 1280×720 and 1920×1080 without sideways scrolling, and times read in zh-CN form in the
service's zone whatever the browser's own locale and zone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Screen

PAGES = (("/", ".tile"), ("/workspace", "#case-form"), ("/cases", "#case-table tbody tr"),
         ("/knowledge", "#article-table tbody tr"), ("/reports", "#kpis .kpi"), ("/models", "#version-table tbody tr"),
         ("/admin", "#user-table tbody tr"), ("/find?q=发票", "#case-results .result"), ("/import", "#file"))


def test_ctrl_enter_saves_and_slash_goes_to_search(screen, service):
    page = screen.page
    screen.sign_in("agent")
    page.fill("#customer_name", "郑先生")
    page.fill("#subject", "积分兑换失败")
    page.fill("#description", "兑换礼品时提示积分不足，但账户显示有3000积分")
    page.select_option("#type", "咨询")
    page.select_option("#priority", "低")
    page.focus("#description")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#saved-number")).to_have_text(re.compile(r"^FW\d{11}$"))
    page.locator("h1").first.click()
    page.keyboard.press("/")
    expect(page.locator("#find-q")).to_be_focused()


@pytest.mark.parametrize("size", [{"width": 1280, "height": 720}, {"width": 1920, "height": 1080}])
def test_every_page_fits_the_screen(browser, service, size):
    context = browser.new_context(viewport=size, locale="zh-CN", timezone_id="Asia/Shanghai")
    screen = Screen(context.new_page(), service)
    try:
        screen.sign_in("admin")
        too_wide = []
        for path, ready in PAGES:
            screen.page.goto(f"{service.url}{path}")
            expect(screen.page.locator(ready).first).to_be_visible()
            width = screen.page.evaluate("document.documentElement.scrollWidth")
            if width > size["width"]:
                too_wide.append((path, width))
        assert not too_wide, too_wide
        assert not screen.errors, screen.errors
    finally:
        context.close()


def test_times_are_zh_cn_in_the_service_zone_whatever_the_browser(browser, service):
    created = service.api("POST", "/api/v1/cases", role="agent", json={
        "channel": "电话", "customer_name": "冯女士", "subject": "快递显示签收但没收到", "contact_at": "2026-03-05T09:30:00+08:00",
        "description": "物流显示已签收，家里没人收到包裹", "type": "投诉", "priority": "中"}).json()
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", timezone_id="America/New_York")
    screen = Screen(context.new_page(), service)
    try:
        screen.sign_in("agent", then=f"/cases/{created['number']}")
        fields = screen.page.locator("#case-fields")
        expect(fields).to_contain_text("2026-03-05 09:30")           # Beijing time, not 20:30 the day before
        assert not re.search(r"\b(AM|PM)\b|[A-Z][a-z]{2} \d{1,2},", fields.inner_text())
        assert not screen.errors, screen.errors
    finally:
        context.close()
