"""The one place that reads configuration (environment, `LEDGER_` prefix, `.env`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    operator_token: str | None = None
    rate_limit: float = 100.0
    aggregate_cache_size: int = 20_000

    @property
    def event_store_url(self) -> str:
        return self.event_store or f"sqlite:///{self.data_dir / 'events.sqlite'}"

    @property
    def projection_path(self) -> Path:
        return self.duckdb_path or self.data_dir / "projections.duckdb"

    @property
    def embedded(self) -> bool:
        return not self.kafka_bootstrap
