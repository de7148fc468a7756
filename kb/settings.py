"""Service settings, read from ``ZHIKU_*`` environment variables.

Only entry points (``api/app.py``, ``api/__main__.py``, the CLIs) call
``get_settings()``; library code takes explicit arguments so tests never need
to touch the environment before importing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIKU_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="shipped data (taxonomy, SLA, demo)")
    var_dir: Path | None = Field(default=None, description="runtime state; default <data_dir>/var")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in var_dir")
    timezone: str = "Asia/Shanghai"
    case_number_prefix: str = Field(default="FW", pattern=r"^[A-Z]{1,6}$")
    store_redacted_text: bool = True
    mask_individual_names: bool = False
    load_demo_data: bool = True
    taxonomy_file: Path | None = None
    sla_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_json: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        if self.var_dir is None:
            self.var_dir = self.data_dir / "var"
        if self.taxonomy_file is None:
            self.taxonomy_file = self.data_dir / "taxonomy.default.toml"
        if self.sla_file is None:
            self.sla_file = self.data_dir / "sla.default.toml"
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.var_dir / 'zhiku.sqlite3'}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
