"""create_app(settings): the composition root. Heavy objects are built in the lifespan,
never at import time."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from api import errors, heap, openapi
from api.balance import ShedWhenBusy
from api.gate import Gate
from api.headers import SecurityHeaders
from api.hygiene import ControlCharacterFilter
from api.jobs import JobWorker
from api.logging import RequestIdMiddleware
from api.routers import (
    articles,
    audiences,
    cases,
    classify,
    customers,
    dictionary,
    health,
    jobs,
    knowledge,
    models,
    reports,
    sla,
    suggestions,
    taxonomy,
    users,
)
from api.runtime import Refresher
from api.throttle import FailedAuthThrottle
from api.vector_keeper import vector_keeper
from api.web import pages
from classifier.predictor import Predictor
from classifier.registry import ModelRegistry
from classifier.rules import TriageRules
from classifier.vector_store import VectorStore
from indexer import WhooshIndex
from indexer.sync import IndexWorker
from kb import recent
from kb.articles.service import ArticleRules
from kb.cases.service import rules_from_settings
from kb.clock import Clock
from kb.db import make_session
from kb.dictionary import install_segmenter_from_db
from kb.settings import Settings, get_settings
from kb.setup import prepare_database
from kb.suggestion_log import SuggestionLogWriter


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        # Route work is CPU-bound under the GIL: a few threads per worker keep it moving; the
        # default 40 made 16 concurrent suggestions slower than one at a time (GIL convoys).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        app.state.search_gate = Gate(settings.search_concurrency)
        app.state.engine = prepare_database(settings)
        recent.configure(settings.cache_seconds)
        app.state.auth_throttle = FailedAuthThrottle(limit=settings.auth_failures_per_minute)
        app.state.case_rules = rules_from_settings(settings, clock)
        app.state.article_rules = ArticleRules(review_required=settings.article_review_required,
                                               review_days=settings.article_review_days)
        install_segmenter_from_db(app.state.engine, settings.jieba_cache_dir)
        app.state.registry = ModelRegistry(settings.model_dir)
        with make_session(app.state.engine, write=True) as session:
            app.state.registry.backfill(session)      # versions from before artifacts lived in the database
        app.state.predictor = Predictor(app.state.registry, TriageRules.from_toml(settings.triage_rules_file),
                                        settings.jieba_cache_dir)
        with make_session(app.state.engine) as session:
            app.state.predictor.refresh(session)
        app.state.refresher = Refresher(app.state.engine, app.state.predictor, settings.jieba_cache_dir,
                                        settings.model_poll_seconds)
        app.state.refresher.start()
        app.state.index = WhooshIndex(settings.index_dir, settings.jieba_cache_dir, cache_mb=settings.index_cache_mb)
        app.state.suggestion_log = SuggestionLogWriter(app.state.engine,
                                                       flush_seconds=settings.suggestion_log_flush_seconds)
        app.state.suggestion_log.start()
        app.state.jobs = None
        if settings.embedded_worker:
            settings.var_dir.mkdir(parents=True, exist_ok=True)
            app.state.jobs = JobWorker(app.state.engine, settings, app.state.index,
                                       poll_seconds=settings.job_poll_seconds)
            app.state.jobs.start()
        app.state.index_worker = app.state.vector_keeper = None
        app.state.vectors = VectorStore(settings.vector_dir)
        if settings.embedded_indexer:
            settings.var_dir.mkdir(parents=True, exist_ok=True)
            app.state.index_worker = IndexWorker(app.state.engine, app.state.index, settings.var_dir / "indexer.lock",
                                                 interval=settings.index_poll_seconds,
                                                 retention_days=settings.feed_retention_days)
            app.state.index_worker.start()
            app.state.vector_keeper = vector_keeper(app.state.engine, settings, app.state.predictor)
            app.state.vector_keeper.start()
        heap.settle()                  # everything above lives as long as the worker (api.heap)
        try:
            yield
        finally:
            if app.state.jobs is not None:
                app.state.jobs.stop()
            if app.state.index_worker is not None:
                app.state.index_worker.stop()
            if app.state.vector_keeper is not None:
                app.state.vector_keeper.stop()
            app.state.refresher.stop()
            app.state.suggestion_log.stop()
            app.state.index.close()
            app.state.engine.dispose()

    app = FastAPI(
        title="知库 Zhiku",
        summary="客服知识库与问题分流 API：登记问题、自动编号、脱敏、SLA 时限、状态流转",
        version="0.1.0",
        lifespan=lifespan,
    )
    # outermost last: ids and headers wrap everything, the URL is cleaned before routing
    app.add_middleware(ShedWhenBusy, threads=settings.threads)
    app.add_middleware(ControlCharacterFilter)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    for module in (health, cases, customers, suggestions, articles, audiences, knowledge, classify, models, dictionary, taxonomy,
                   users, sla, reports, jobs):
        app.include_router(module.router)
    pages.install(app)
    openapi.install(app)
    return app
