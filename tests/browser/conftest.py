"""Browser tests: the real service as a process (``python -m api serve`` on the demo data,
with its bootstrapped model and index), driven by Playwright in Debian's Chromium — no
browser download. Every page is screenshot at 1366×768 into test-artifacts/screenshots/.

Chromium is installed by scripts/test.sh (``apt-get install chromium``) when missing; on CI a
missing browser is a failure, elsewhere these tests are skipped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import DATA_DIR
from tests.e2e.test_two_workers import free_port

SCREENSHOTS = Path(os.environ.get("ZHIKU_SCREENSHOT_DIR", PROJECT_ROOT / "test-artifacts" / "screenshots"))
VIEWPORT = {"width": 1366, "height": 768}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def chromium_path() -> str | None:
    for name in (os.environ.get("ZHIKU_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


class Service:
    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url = url
        self.keys = keys

    def api(self, method: str, path: str, role: str = "admin", **kw) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Bearer {self.keys[role]}"},
                             timeout=30, **kw)


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Iterator[Service]:
    """``python -m api`` exactly as the README runs it: demo data, first model, admin key printed."""
    var = tmp_path_factory.mktemp("browser-var")
    port = free_port()
    env = {**os.environ, "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_VAR_DIR": str(var), "ZHIKU_PORT": str(port),
           "ZHIKU_HOST": "127.0.0.1", "ZHIKU_LOG_JSON": "false", "PYTHONUNBUFFERED": "1"}
    log = (var / "service.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=PROJECT_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"service exited {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("service did not become healthy")
            time.sleep(0.5)
        log.seek(0)
        admin = re.search(r"\b(zk_[A-Za-z0-9_\-]+)", log.read())
        assert admin, "the first start prints an admin key"
        keys = {"admin": admin.group(1)}
        for role, username in (("agent", "liwei"), ("knowledge_manager", "liuyang"), ("analyst", "zhouqian")):
            resp = httpx.post(f"{url}/api/v1/users/{username}/keys", json={"note": "browser tests"},
                              headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=10)
            assert resp.status_code == 201, resp.text
            keys[role] = resp.json()["key"]
        _wait_for_index(url, keys["admin"], deadline=time.monotonic() + 180)
        yield Service(url, keys)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for_index(url: str, admin_key: str, deadline: float) -> None:
    """/health answers as soon as the web workers listen; the demo cases reach the index a little
    later, from the background process (nice 10, so on a busy 2-core CI box it can take seconds).
    Tests that expect similar cases start once the change feed is applied."""
    last: dict = {}
    while time.monotonic() < deadline:
        last = httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10).json()
        database, index = last.get("database", {}), last.get("index", {})
        if database.get("outbox_pending") == 0 and (index.get("documents") or 0) > 0:
            return
        time.sleep(0.5)
    pytest.fail(f"the index did not catch up with the demo data: {last}")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI: chromium is not installed (scripts/test.sh installs Debian's chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Screen:
    """A page plus the JavaScript errors it raised (any error fails the test)."""

    def __init__(self, page, service: Service) -> None:
        self.page = page
        self.service = service
        self.errors: list[str] = []
        self.expected_statuses: set[int] = {401}    # 401s while signing out are expected network noise
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

    def sign_in(self, role: str, then: str | None = None) -> None:
        self.page.goto(f"{self.service.url}/login" + (f"?next={then}" if then else ""))
        self.page.fill("#key", self.service.keys[role])
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def screen(browser, service) -> Iterator[Screen]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    s = Screen(page, service)
    yield s
    context.close()
    # the browser logs every 4xx answer as an error: those a test expects are not failures,
    # script errors always are
    errors = [e for e in s.errors
              if not any(f"status of {code} " in e for code in s.expected_statuses)]
    assert not errors, errors
