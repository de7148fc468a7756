"""create_app(settings): the composition root. Heavy objects are built in the lifespan,
never at import time."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.logging import RequestIdMiddleware
from api.routers import cases, health, sla, taxonomy, users
from kb.cases.service import CaseRules
from kb.clock import Clock
from kb.db import make_engine, migrate, session_scope
from kb.settings import Settings, get_settings
from kb.sla import SlaEngine, SlaPolicy
from kb.taxonomy import load_default_taxonomy


def build_rules(settings: Settings, clock: Clock | None = None) -> CaseRules:
    clock = clock or Clock(tz=settings.tz)
    return CaseRules(
        clock=clock,
        sla=SlaEngine(SlaPolicy.from_toml(settings.sla_file), settings.tz),
        number_prefix=settings.case_number_prefix,
        store_redacted_text=settings.store_redacted_text,
        mask_individual_names=settings.mask_individual_names,
    )


def prepare_database(settings: Settings):
    """Engine + migrations + default taxonomy; safe to run on every start."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        load_default_taxonomy(session, settings.taxonomy_file)
        session.commit()
    return engine


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.engine = prepare_database(settings)
        app.state.case_rules = build_rules(settings, clock)
        try:
            yield
        finally:
            app.state.engine.dispose()

    app = FastAPI(
        title="知库 Zhiku",
        summary="客服知识库与问题分流 API：登记问题、自动编号、脱敏、SLA 时限、状态流转",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    for module in (health, cases, taxonomy, users, sla):
        app.include_router(module.router)
    return app
