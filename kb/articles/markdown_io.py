"""Articles in and out as Markdown files with YAML front matter, so a team can migrate an
existing FAQ (or a wiki export) in bulk and take its knowledge with it.

Import checks every file first and stores nothing when any file is wrong (the report names
the file, the field and the reason); a file whose front matter carries the ``id`` of an
existing article updates it as a new version, any other file creates a draft (or the state
its front matter names)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

import frontmatter
import yaml
from pydantic import ValidationError
from sqlmodel import Session, select

from kb import archives
from kb.articles import queries, service
from kb.articles.audience import require_audience
from kb.errors import DomainError, FieldError
from kb.models import Article, ArticleState, Case
from kb.models.article import ArticleCreate, ArticleUpdate

FRONT_MATTER_FIELDS = ("title", "state", "audience", "product", "module", "problem_type", "fixed_in_version",
                       "applies_to_versions", "tags", "owner", "next_review_at")
IMPORT_STATES = {s.value: s for s in ArticleState}
MAX_FILES = 5000
_SLUG = re.compile(r"[^\w\u4e00-\u9fff-]+")


def _slug(title: str) -> str:
    return _SLUG.sub("-", title).strip("-")[:40] or "article"


def export_zip(session: Session, articles: list[Article]) -> bytes:
    links = queries.linked_case_numbers(session, [a.id for a in articles])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for a in articles:
            meta: dict[str, Any] = {"id": a.id}
            for key in FRONT_MATTER_FIELDS:
                value = getattr(a, key)
                if isinstance(value, ArticleState):
                    value = value.value
                if isinstance(value, date):
                    value = value.isoformat()
                if value not in (None, [], ""):
                    meta[key] = value
            meta["version"] = a.version
            if links.get(a.id):
                meta["cases"] = links[a.id]
            post = frontmatter.Post(a.body, **meta)
            text = frontmatter.dumps(post, allow_unicode=True, sort_keys=False)
            zf.writestr(f"{a.id:05d}-{_slug(a.title)}.md", text + "\n")
    return buffer.getvalue()


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("文件编码无法识别（请使用 UTF-8 或 GBK）")


def unpack(filename: str, raw: bytes) -> list[tuple[str, bytes]]:
    """One uploaded file → (name, bytes) per Markdown file (a .zip is opened within
    ``kb.archives`` limits, folders kept in the name)."""
    if filename.lower().endswith(".zip"):
        return archives.read_members(raw, field="files", name=filename, wanted=_is_markdown,
                                     limits=archives.ZipLimits(members=MAX_FILES))
    return [(filename, raw)]


def _is_markdown(name: str) -> bool:
    return name.lower().endswith((".md", ".markdown")) and not PurePosixPath(name).name.startswith(".")


def _parse(name: str, raw: bytes) -> tuple[dict[str, Any], str]:
    text = _decode(raw)
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter 不是有效的 YAML：{exc}") from exc
    meta = dict(post.metadata)
    body = post.content.strip()
    if "title" not in meta:                     # a plain FAQ file: first heading, else the file name
        heading = re.match(r"#\s+(.+)\n?", body)
        meta["title"] = heading.group(1).strip() if heading else PurePosixPath(name).stem
    return meta, body


def _as_str_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,，、]", value) if v.strip()]
    return value


def import_articles(session: Session, files: list[tuple[str, bytes]], *, actor: str, now: datetime,
                    rules: service.ArticleRules, dry_run: bool = False) -> dict[str, Any]:
    if not files:
        raise FieldError("files", "没有可导入的 Markdown 文件")
    plans, errors = [], []
    for name, raw in files:
        try:
            meta, body = _parse(name, raw)
        except ValueError as exc:
            errors.append({"file": name, "field": "file", "message": str(exc)})
            continue
        state = meta.pop("state", None)
        existing_id = meta.pop("id", None)
        cases = _as_str_list(meta.pop("cases", None)) or []
        meta.pop("version", None)
        unknown = sorted(set(meta) - set(FRONT_MATTER_FIELDS))
        for key in unknown:
            errors.append({"file": name, "field": key, "message": "未知的 front matter 字段"})
        if state is not None and state not in IMPORT_STATES:
            errors.append({"file": name, "field": "state", "message": f"状态须为 {'、'.join(IMPORT_STATES)}"})
        for key in ("tags", "applies_to_versions"):
            if key in meta:
                meta[key] = _as_str_list(meta[key])
        for key in ("fixed_in_version", "product", "module", "problem_type", "owner", "audience"):
            if key in meta and meta[key] is not None and not isinstance(meta[key], str):
                meta[key] = str(meta[key])
        values = {k: v for k, v in meta.items() if k in FRONT_MATTER_FIELDS}
        try:
            data = ArticleCreate(**values, body=body or "（空）", case_numbers=cases, change_note=f"导入 {name}")
        except ValidationError as exc:
            for err in exc.errors():
                errors.append({"file": name, "field": ".".join(map(str, err["loc"])) or "file", "message": err["msg"]})
            continue
        if data.audience:
            try:
                require_audience(session, data.audience)
            except DomainError as exc:
                errors.append({"file": name, "field": "audience", "message": exc.message})
        for number in data.case_numbers:
            if session.exec(select(Case.id).where(Case.number == number)).first() is None:
                errors.append({"file": name, "field": "cases", "message": f"问题编号 {number} 不存在"})
        target = session.get(Article, existing_id) if isinstance(existing_id, int) else None
        plans.append((name, data, IMPORT_STATES.get(state), target))
    bad_files = {e["file"] for e in errors}
    report = {"files": len(files), "valid": len(files) - len(bad_files), "errors": errors, "dry_run": dry_run, "created": [], "updated": []}
    if errors or dry_run:
        report["imported"] = 0
        return report
    for name, data, state, target in plans:
        try:
            article = _store(session, data, state, target, actor=actor, now=now, rules=rules)
        except DomainError as exc:
            session.rollback()
            report["errors"].append({"file": name, "field": exc.field or "file", "message": exc.message})
            report["imported"] = len(report["created"]) + len(report["updated"])
            report["stopped_at"] = name
            return report
        (report["updated"] if target else report["created"]).append(article.id)
    report["imported"] = len(report["created"]) + len(report["updated"])
    return report


def _store(session: Session, data: ArticleCreate, state: ArticleState | None, target: Article | None, *,
           actor: str, now: datetime, rules: service.ArticleRules) -> Article:
    if target is None:
        article = service.create_article(session, data, actor=actor, now=now, rules=rules)
    else:
        fields = data.model_dump(exclude_unset=True, exclude={"case_numbers", "change_note"})
        article = service.update_article(session, target.id, ArticleUpdate(version=target.version, **fields,
                                                                             change_note=data.change_note),
                                         actor=actor, now=now)
        if data.case_numbers:
            service.link_cases(session, article.id, data.case_numbers, actor=actor, now=now)
    if state is not None and state != article.state:
        service.set_state(session, article, state, actor=actor, now=now, note=f"导入为「{state.value}」")
    return article
