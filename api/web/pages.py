"""Page routes. A page is only a shell — the data comes from /api/v1 with the user's key —
so pages need no server-side session and every rule (roles, audiences, validation) is the
API's, enforced once."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from kb.articles.service import allowed_states
from kb.cases.workflow import TRANSITIONS
from kb.models import ArticleState

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

# path → (template, title, roles allowed to use the page; the nav hides the rest)
PAGES = {
    "/workspace": ("workspace.html", "登记问题", ["agent"]),
    "/cases": ("cases.html", "问题列表", ["agent", "analyst", "knowledge_manager"]),
    "/import": ("import.html", "表格导入", ["agent"]),
    "/knowledge": ("knowledge.html", "知识库", ["knowledge_manager", "agent", "analyst"]),
    "/reports": ("reports.html", "服务报表", ["analyst"]),
    "/models": ("models.html", "模型", ["analyst"]),
    "/admin": ("admin.html", "管理", ["admin", "knowledge_manager"]),
}


def _render(request: Request, template: str, title: str, **context) -> HTMLResponse:
    version = request.app.version
    return templates.TemplateResponse(request, template, {"title": title, "asset_version": version, "nav": PAGES,
                                                          "tz": request.app.state.settings.timezone, **context})


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return _render(request, "home.html", "首页")


@router.get("/login", response_class=HTMLResponse)
def login(request: Request) -> HTMLResponse:
    return _render(request, "login.html", "登录")


def _page(template: str, title: str, roles: list[str]):
    def view(request: Request) -> HTMLResponse:
        return _render(request, template, title, page_roles=roles)
    view.__name__ = f"page_{template.split('.')[0]}"
    return view


for _path, (_template, _title, _roles) in PAGES.items():
    router.add_api_route(_path, _page(_template, _title, _roles), methods=["GET"], response_class=HTMLResponse)


@router.get("/find", response_class=HTMLResponse)
def find_page(request: Request) -> HTMLResponse:
    """The top bar's search: a case number jumps to the case, words find cases in every status and
    the articles the user may see (both through the API, so the visibility rules are its own)."""
    return _render(request, "find.html", "搜索")


@router.get("/cases/{number}", response_class=HTMLResponse)
def case_page(request: Request, number: str) -> HTMLResponse:
    transitions = {s.value: [t.value for t in nxt] for s, nxt in TRANSITIONS.items()}
    return _render(request, "case.html", f"问题 {number}", number=number,
                   transitions_json=json.dumps(transitions, ensure_ascii=False))


def _article_flow(request: Request) -> str:
    rules = request.app.state.article_rules
    return json.dumps({s.value: [t.value for t in allowed_states(s, rules)] for s in ArticleState}, ensure_ascii=False)


@router.get("/knowledge/new", response_class=HTMLResponse)
def article_new(request: Request) -> HTMLResponse:
    return _render(request, "article.html", "新建文章", article_id="", flow_json=_article_flow(request))


@router.get("/knowledge/{article_id:int}", response_class=HTMLResponse)
def article_page(request: Request, article_id: int) -> HTMLResponse:
    return _render(request, "article.html", f"文章 {article_id}", article_id=str(article_id),
                   flow_json=_article_flow(request))


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    return RedirectResponse("/static/favicon.svg")


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
