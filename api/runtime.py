"""Long-lived resources of one worker process: the installed segmenter, the predictor, and
the background thread that follows the database's pointers (dictionary, production model)
so every uvicorn worker picks up a change within ``model_poll_seconds``."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from api import heap
from classifier.predictor import Predictor
from kb.db import make_session
from kb.dictionary import install_segmenter_from_db
from kb.text import current

log = logging.getLogger("zhiku.runtime")


class Refresher:
    """Polls the DB; builds a new segmenter off the request path when the dictionary changed,
    and lets the predictor follow the production pointer. The background process runs one
    without a predictor: its index writer rebuilds for the new dictionary and its training
    jobs train with it."""

    def __init__(self, engine: Engine, predictor: Predictor | None, cache_dir, interval: float) -> None:
        self.engine = engine
        self.predictor = predictor
        self.cache_dir = cache_dir
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zhiku-refresher", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def tick(self) -> None:
        before = current().version
        seg = install_segmenter_from_db(self.engine, self.cache_dir)
        swapped = seg.version != before
        if swapped:
            log.info("text pipeline rebuilt", extra={"text_version": seg.version})
        if self.predictor is not None:       # the background process follows the dictionary only
            with make_session(self.engine) as session:
                swapped = self.predictor.refresh(session) or swapped
        if swapped:                          # the old model or dictionary is garbage now (api.heap)
            heap.settle(thaw=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # keep polling: a DB hiccup must not stop hot reload
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("refresh failed")
