"""A team's day in the browser, timed: keystroke → proposals, save → case number, page → data.

Serves ``python -m api serve --workers 2`` on a var dir of real public texts (the 100k
resolved cases ``bench/suggest_load.py`` arranges: ``--var`` reuses one), drives Debian's
Chromium with Playwright as the admin (who may open every page), and times in the page
itself (``performance.now()``):

- keystroke → proposals: from the last keystroke (input event) in 客户需求描述 to the similar-case list being
  redrawn; baseline: the 400 ms debounce plus the ``/api/v1/suggestions`` call's own time
  (Resource Timing) in the same step, so the page's own overhead is the difference;
- save → number: from the click on 保存问题 to the case number on screen; baseline: the
  ``POST /api/v1/cases`` call's own time;
- page → data: from navigation start to the page's data on screen; baseline: the slowest API
  call the page made. For /reports the data is the KPI row (each report is drawn as it
  arrives); the time until all six charts are drawn is printed as its own row, not a target.

Targets: keystroke → proposals p50 ≤ 600 ms, save → number p50 ≤ 400 ms, every page → data
p50 ≤ 1,500 ms, 0 errors.

    .venv/bin/python bench/browser_walk.py --var /tmp/sv100k [--repeat 7] [--cases 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, finish
from similar_latency import corpus
from suggest_load import arranged, free_port, serve_command, wait_ready

PAGES = (("/", ".tile"), ("/cases", "#case-table tbody tr"), ("/find?q=发票", "#case-results .result"),
         ("/knowledge", "#article-table tbody tr"), ("/reports", "#kpis .kpi"), ("/models", "#version-table tbody tr"),
         ("/admin", "#user-table tbody tr"))
DEBOUNCE_MS = 400
VIEWPORT = {"width": 1366, "height": 768}

INSTRUMENT = """() => {
  window.__t = {};
  new MutationObserver(() => { window.__t.similar = performance.now(); })
    .observe(document.querySelector('#similar'), {childList: true});
  new MutationObserver(() => { if (document.querySelector('#saved-number')) window.__t.saved = performance.now(); })
    .observe(document.querySelector('#saved'), {childList: true, subtree: true});
  document.addEventListener('input', () => { window.__t.key = performance.now(); }, {capture: true});
  document.addEventListener('click', () => { window.__t.click = performance.now(); }, {capture: true});
}"""

LAST_CALL = """(part) => {
  const e = performance.getEntriesByType('resource').filter((r) => r.name.includes(part)).pop();
  return e ? e.responseEnd - e.startTime : null;
}"""

REPORTS_ALL = "/reports (all six charts)"
ALL_CHARTS = ("() => ['chart-volumes', 'chart-sla', 'chart-csat', 'chart-nps', 'chart-top', 'chart-acceptance']"
              ".every((id) => !!Chart.getChart(id))")

SLOWEST_API = """() => Math.max(0, ...performance.getEntriesByType('resource')
  .filter((r) => r.name.includes('/api/v1/')).map((r) => r.responseEnd - r.startTime))"""


def p50(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--var", type=Path, help="a var dir arranged by bench/suggest_load.py (reused), else a temp one")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    chromium = shutil.which(os.environ.get("ZHIKU_CHROMIUM") or "chromium")
    if not chromium:
        raise SystemExit("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    short, long = corpus()
    random.Random(1).shuffle(short)
    drafts = [t for t in short[:2000] if 20 <= len(t) <= 120][:args.repeat]
    with tempfile.TemporaryDirectory() as tmp:
        var = args.var or Path(tmp) / "var"
        key = arranged(var, args.cases, short[2000:] + long)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_PORT": str(port), "ZHIKU_LOG_JSON": "false",
               "ZHIKU_LOAD_DEMO_DATA": "false"}
        log = open(Path(tmp) / "server.log", "w+")
        proc = subprocess.Popen(serve_command(2, port, tree=ROOT), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        errors: list[str] = []
        typed, typed_api, saved, saved_api = [], [], [], []
        pages: dict[str, list[float]] = {p: [] for p, _ in PAGES} | {REPORTS_ALL: []}
        pages_api: dict[str, list[float]] = {p: [] for p, _ in PAGES} | {REPORTS_ALL: []}
        try:
            wait_ready(url, proc, log, key)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                context = browser.new_context(viewport=VIEWPORT, locale="zh-CN",
                                              timezone_id="Asia/Shanghai")
                page = context.new_page()
                page.set_default_timeout(30_000)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{url}/login")
                page.fill("#key", key)
                page.click("#login-form button[type=submit]")
                page.wait_for_load_state("networkidle")
                for i, text in enumerate(drafts):
                    try:
                        page.goto(f"{url}/workspace")
                        page.wait_for_selector("#case-form")
                        page.evaluate(INSTRUMENT)
                        page.fill("#customer_name", "基准客户")
                        page.fill("#subject", text[:18])
                        page.fill("#description", text[:-1])
                        page.focus("#description")
                        page.keyboard.type(text[-1])
                        page.wait_for_function("() => window.__t.similar > window.__t.key")
                        typed.append(page.evaluate("() => window.__t.similar - window.__t.key"))
                        typed_api.append(page.evaluate(LAST_CALL, "/api/v1/suggestions"))
                        page.select_option("#type", index=1)
                        page.select_option("#priority", index=1)
                        page.click("#save")
                        page.wait_for_function("() => window.__t.saved > window.__t.click")
                        saved.append(page.evaluate("() => window.__t.saved - window.__t.click"))
                        saved_api.append(page.evaluate(LAST_CALL, "/api/v1/cases"))
                        for path, ready in PAGES:
                            page.goto(f"{url}{path}")
                            page.wait_for_selector(ready)
                            pages[path].append(page.evaluate("() => performance.now()"))
                            if path == "/reports":     # the KPIs come first; then every chart
                                page.wait_for_function(ALL_CHARTS)
                                pages[REPORTS_ALL].append(page.evaluate("() => performance.now()"))
                                pages_api[REPORTS_ALL].append(page.evaluate(SLOWEST_API))
                            pages_api[path].append(page.evaluate(SLOWEST_API))
                    except Exception as exc:            # counted, not fatal: the table says how many
                        state = page.evaluate("() => [document.querySelector('#suggest-state')?.textContent, "
                                              "JSON.stringify(window.__t || {})]")
                        errors.append(f"walk {i}: {type(exc).__name__}: {str(exc)[:200]} (page: {state})")
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(f"{len(drafts)} walks over {args.cases if not args.var else 'the arranged'} resolved cases, 2 workers, "
          f"Chromium {VIEWPORT['width']}×{VIEWPORT['height']}; machine load {os.getloadavg()[0]:.2f}")
    print(f"{'step':<34}{'p50 ms':>10}{'max ms':>10}{'baseline p50':>14}{'overhead':>10}")
    rows = [("keystroke → proposals", typed, [DEBOUNCE_MS + (a or 0) for a in typed_api]),
            ("save → case number", saved, [a or 0 for a in saved_api])]
    rows += [(f"page {path} → data", pages[path], pages_api[path]) for path in [p for p, _ in PAGES] + [REPORTS_ALL]]
    for name, xs, base in rows:
        print(f"{name:<34}{p50(xs):>10.0f}{max(xs, default=float('nan')):>10.0f}{p50(base):>14.0f}"
              f"{p50(xs) - p50(base):>10.0f}")
    print(f"errors: {len(errors)}")
    for e in errors[:10]:
        print("  ", e)
    worst_page = max((p50(pages[p]) for p, _ in PAGES), default=float("nan"))
    ok = (not errors and len(typed) == len(drafts) and p50(typed) <= 600 and p50(saved) <= 400 and worst_page <= 1500)
    finish(ok, f"keystroke→proposals p50 {p50(typed):.0f} ms (debounce {DEBOUNCE_MS} + API {p50(typed_api):.0f}), "
               f"save→number p50 {p50(saved):.0f} ms (API {p50(saved_api):.0f}), slowest page→data p50 {worst_page:.0f} ms, "
               f"errors {len(errors)}")


if __name__ == "__main__":
    sys.exit(main())
