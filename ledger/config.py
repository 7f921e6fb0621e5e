"""The one place that reads configuration (environment, `LEDGER_` prefix, `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process configuration. Unset Kafka bootstrap means embedded mode."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGER_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("ledger-data")
    event_store: str | None = Field(
        default=None, description="sqlite:///path or postgresql://user@host:port/db"
    )
    kafka_bootstrap: str | None = None
    kafka_topic: str = "ledger.events"
    kafka_partitions: int = 6
    duckdb_path: Path | None = None
    # DuckDB's memory per projection file ("256MB", "1GB"); past it, work spills to disk.
    duckdb_memory_limit: str = Field(default="256MB", pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")
    # A secret: never printed by repr, at least 24 characters (a guessable token is none).
    operator_token: SecretStr | None = Field(default=None, min_length=24, max_length=512)
    rate_limit: float = 100.0
    # Failed authentications per second per client (bursts of 10x), and calls per second
    # per client to the operator endpoint: past either, 429 with Retry-After. 0 = off.
    auth_failure_rate: float = Field(default=1.0, ge=0)
    operator_rate: float = Field(default=2.0, ge=0)
    aggregate_cache_size: int = 20_000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # relay and project serve /metrics and /healthz here (0 = off); serve uses its API port.
    metrics_port: int = Field(default=0, ge=0, le=65535)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def event_store_url(self) -> str:
        return self.event_store or f"sqlite:///{self.data_dir / 'events.sqlite'}"

    @property
    def projection_path(self) -> Path:
        return self.duckdb_path or self.data_dir / "projections.duckdb"

    @property
    def embedded(self) -> bool:
        return not self.kafka_bootstrap
