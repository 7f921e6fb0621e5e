"""The one place that reads configuration (environment, `LEDGER_` prefix, `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr, ValidationError, field_validator
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
    operator_token: SecretStr | None = None
    rate_limit: float = 100.0
    # Failed authentications per second per client (bursts of 10x), and calls per second
    # per client to the operator endpoint: past either, 429 with Retry-After. 0 = off.
    auth_failure_rate: float = Field(default=1.0, ge=0)
    operator_rate: float = Field(default=2.0, ge=0)
    # Addresses or networks (comma-separated, e.g. "10.0.0.5,10.1.0.0/16") of the reverse
    # proxies whose X-Forwarded-For is believed. Empty: nobody's, so no caller can choose
    # the address its failures are counted against.
    trusted_proxies: str = Field(default="", max_length=2000)
    aggregate_cache_size: int = 20_000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # relay and project serve /metrics and /healthz here (0 = off); serve uses its API port.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Seconds between two passes of the drift watch over every tenant (RULES.md): an alert
    # is raised within this long after its week completes or its late fact is projected.
    drift_interval: float = Field(default=3600.0, gt=0, le=86_400)
    # Webhooks (ledger/webhooks): http and private addresses allowed only for tests and
    # development; the first retry's wait (then x4 each time, at most 4 h, for 24 h); how
    # long a dispatcher's claim on an attempt holds before another may send it.
    webhook_allow_private: bool = False
    webhook_retry_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Tests only: the process's clock starts at this moment and runs on from it
    # (ledger.clock.ShiftedClock), so a test can run `ledger serve` on a chosen day.
    test_now: AwareDatetime | None = None

    @field_validator("operator_token")
    @classmethod
    def _token_length(cls, value: SecretStr | None) -> SecretStr | None:
        # Our own words: pydantic's length message would tell the rejected secret's length.
        if value is not None and not 24 <= len(value.get_secret_value()) <= 512:
            raise ValueError("must be 24 to 512 characters")
        return value

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


class ConfigurationError(Exception):
    """A setting is wrong: one line per setting, naming it, never repeating its value."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and `.env`); a wrong one is a ConfigurationError.

    pydantic's own message would print the rejected value, and a rejected value may be a
    secret (a too short operator token): only the setting's name and the rule are kept.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in problem["loc"]).upper()
            lines.append(f"LEDGER_{name}: {problem['msg']}")
        raise ConfigurationError("; ".join(lines)) from None
