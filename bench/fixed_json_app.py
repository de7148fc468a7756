"""The framework's ceiling for bench/suggest_load.py: a FastAPI app whose POST
/api/v1/suggestions parses the JSON draft and answers a fixed body of a real suggestion's
size, served by ``api.serve`` exactly as the product is (same workers, sockets, threads)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI, Response


def create_app() -> FastAPI:
    body = Path(os.environ["ZHIKU_BENCH_FIXED_BODY"]).read_bytes()
    threads = int(os.environ.get("ZHIKU_THREADS", "4"))

    @asynccontextmanager
    async def lifespan(_app):
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/v1/suggestions")
    def suggestions(draft: dict) -> Response:          # a plain def, as the real route: same thread hop
        return Response(content=body, media_type="application/json")

    return app
