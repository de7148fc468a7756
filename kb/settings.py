"""Service settings, read from ``ZHIKU_*`` environment variables.

Only entry points (``api/app.py``, ``api/__main__.py``, the CLIs) call
``get_settings()``; library code takes explicit arguments so tests never need
to touch the environment before importing.
"""

from __future__ import annotations

import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIKU_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="shipped data (taxonomy, SLA, demo)")
    var_dir: Path | None = Field(default=None, description="runtime state; default <data_dir>/var")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in var_dir")
    db_pool_size: int = Field(default=10, ge=1, le=500, description="PostgreSQL: connections kept per process")
    db_max_overflow: int = Field(default=10, ge=0, le=500, description="PostgreSQL: extra connections under load")
    db_pool_timeout_seconds: float = Field(default=10, gt=0, le=300,
                                           description="waiting longer for a pooled connection is a 503")
    db_connect_timeout_seconds: int = Field(default=5, ge=1, le=300)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0, le=3_600_000,
                                         description="PostgreSQL: a statement running longer is cancelled (0: never)")
    timezone: str = "Asia/Shanghai"
    case_number_prefix: str = Field(default="FW", pattern=r"^[A-Z]{1,6}$")
    store_redacted_text: bool = True
    mask_individual_names: bool = False
    contact_hash_key: SecretStr | None = Field(
        default=None, min_length=16, description="secret of the contact hash that finds a customer's earlier "
        "cases; set the same value on every node. Unset: a random key kept in <var_dir>/contact-hash.key")
    load_demo_data: bool = True
    taxonomy_file: Path | None = None
    sla_file: Path | None = None
    dictionary_file: Path | None = None
    triage_rules_file: Path | None = None
    model_dir: Path | None = Field(default=None, description="model registry root; default <var_dir>/models")
    index_dir: Path | None = Field(default=None, description="Whoosh generations; default <var_dir>/index")
    vector_dir: Path | None = Field(default=None, description="resolved cases' semantic vectors, derived like the "
                                    "index; default <var_dir>/vectors")
    article_review_required: bool = Field(default=True, description="articles go draft → 审核中 → 已发布")
    article_review_days: int = Field(default=180, ge=1, le=3650, description="default next review date")
    cache_seconds: float = Field(default=1.0, ge=0, le=60,
                                 description="how long a worker remembers a key's user, the active labels and a "
                                 "role's audiences; a change made on another worker or node is seen within this")
    suggestion_log_flush_seconds: float = Field(
        default=0.25, gt=0, le=10, description="how often a worker writes the suggestions it served (in one "
        "transaction); a crash can lose this much of the log, a clean stop nothing")
    index_cache_mb: int = Field(default=128, ge=8, le=16_384,
                                description="per process: decoded postings and BM25 parts kept in memory (the "
                                "rest of a worker is ~300 MB at 100k cases; 2 workers + the background process "
                                "fit a 4 GB box with the default)")
    similar_k: int = Field(default=5, ge=1, le=50, description="similar resolved cases shown per suggestion")
    embedded_indexer: bool = Field(default=True, description="this node's `serve` runs the index writer (in its "
                                   "background process); false when `python -m api worker` runs on the node")
    index_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    vector_refresh_seconds: float = Field(
        default=60, gt=0, le=86_400, description="how often the index writer's process brings the node's store of "
        "resolved cases' semantic vectors up to date (suggestions compute the vectors it lacks meanwhile)")
    vector_max_lag_seconds: float = Field(
        default=900, ge=0, le=86_400, description="the store is rewritten whole: fewer than 1 % of the cases "
        "(at least 200) new or edited wait up to this long for the next rewrite")
    embedded_worker: bool = Field(default=True, description="this node's `serve` runs the job worker (training, "
                                  "imports, rebuilds) in its background process; false when `python -m api worker` "
                                  "runs on the node")
    background_nice: int = Field(default=10, ge=0, le=19,
                                 description="CPU niceness of the background process (jobs, index writer): "
                                 "agents' requests are served first on a busy node")
    job_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    job_lease_seconds: float = Field(default=60, ge=2, le=3600,
                                     description="a job whose worker stops renewing is taken over after this")
    import_pause_when_busy: float = Field(
        default=0.3, ge=0, le=1, description="between two chunks an import waits while other processes keep "
        "this share of the machine's CPUs busy (1: never), so agents are served first (api/pacing.py)")
    import_max_pause_seconds: float = Field(default=5, ge=0, le=600,
                                            description="the longest such wait per 50-row chunk: an import "
                                            "still moves on a node that never gets quiet")
    import_wait_seconds: float = Field(default=600, ge=0, le=3600,
                                       description="an import request waits this long for its job, then answers 202")
    feed_retention_days: float = Field(default=7, gt=0, le=3650,
                                       description="search change-feed rows kept at least this long")
    model_poll_seconds: float = Field(default=2.0, gt=0, le=3600)
    min_model_macro_f1: float = Field(default=0.3, ge=0, le=1,
                                      description="promotion refuses a model whose type head is below")
    min_priority_macro_f1: float = Field(default=0.3, ge=0, le=1,
                                         description="promotion refuses a model whose priority head is below")
    bootstrap_model: bool = True
    train_in_background: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = Field(default=4, ge=1, le=200,
                         description="threads per worker process for request handlers (CPU-bound: keep small)")
    search_concurrency: int = Field(default=1, ge=1, le=64,
                                    description="suggestions and searches a worker process runs at once (the rest "
                                    "wait their turn in order); raise it when the database is across a network")
    log_json: bool = True
    auth_failures_per_minute: int = Field(default=20, ge=1, le=1_000_000,
                                          description="failed sign-ins per client and minute before 429")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.var_dir is None:
            self.var_dir = self.data_dir / "var"
        if self.taxonomy_file is None:
            self.taxonomy_file = self.data_dir / "taxonomy.default.toml"
        if self.sla_file is None:
            self.sla_file = self.data_dir / "sla.default.toml"
        if self.dictionary_file is None:
            self.dictionary_file = self.data_dir / "dictionaries" / "domain.tsv"
        if self.triage_rules_file is None:
            self.triage_rules_file = self.data_dir / "triage_rules.toml"
        if self.model_dir is None:
            self.model_dir = self.var_dir / "models"
        if self.index_dir is None:
            self.index_dir = self.var_dir / "index"
        if self.vector_dir is None:
            self.vector_dir = self.var_dir / "vectors"
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.var_dir / 'zhiku.sqlite3'}"
        return self

    def contact_hash_key_bytes(self) -> bytes:
        """The contact-hash secret: the configured one, or this installation's own random key,
        created once (the first process to start writes it; the others read it)."""
        if self.contact_hash_key is not None:
            return self.contact_hash_key.get_secret_value().encode("utf-8")
        path = self.var_dir / "contact-hash.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        for _ in range(50):               # another process may be between creating and writing it
            key = path.read_text().strip()
            if key:
                return key.encode("utf-8")
            time.sleep(0.01)
        raise RuntimeError(f"{path.name} is empty: remove it or set ZHIKU_CONTACT_HASH_KEY")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def jieba_cache_dir(self) -> Path:
        return self.var_dir / "jieba-cache"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def promotion_floors(self) -> dict[str, float]:
        """Held-out macro-F1 each head must reach before a model is promoted."""
        return {"type": self.min_model_macro_f1, "priority": self.min_priority_macro_f1}


@lru_cache
def get_settings() -> Settings:
    return Settings()
