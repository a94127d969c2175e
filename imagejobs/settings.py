"""The one settings object: every knob of imagejobs, read from the environment (and ``.env``).

Unset database and broker URLs mean the embedded defaults (a SQLite file and kombu's SQLAlchemy
transport on another SQLite file under ``IMAGEJOBS_DATA_DIR``), so a fresh machine runs the demo
with no services. Production sets Postgres, Redis and Gemini through the environment.

Folders are made absolute once, when the settings are read: the data folder defaults to the
user's data folder (not the working directory), and a relative ``IMAGEJOBS_DATA_DIR`` or
``IMAGEJOBS_BLOB_DIR`` is taken relative to the directory the process started in. So a job
submitted from one directory finds its images in a worker started in another.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from imagejobs.core.governance_config import GovernanceConfig, governance_config
from imagejobs.core.jobspec import TASKS

# Current generally available models (imagejobs.core.model_facts, read 2026-11): the newest GA
# flash model for every task, and the GA model that can segment (Gemini 3.x cannot).
DEFAULT_MODEL = "gemini-3.8-flash"
DEFAULT_SEGMENT_MODEL = "gemini-2.5-flash-lite"

# USD per million tokens (input, output), standard paid tier, <=200k-token prompts.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gemini-2.5-flash": {"input": 0.30, "output": 2.50},
    "gemini-2.5-flash-lite": {"input": 0.10, "output": 0.40},
    "gemini-2.5-pro": {"input": 1.25, "output": 10.00},
    "gemini-2.0-flash": {"input": 0.10, "output": 0.40},
    "gemini-3-flash-preview": {"input": 0.50, "output": 3.00},
    "gemini-3-pro-preview": {"input": 2.00, "output": 12.00},
    "gemini-3.8-flash": {"input": 0.75, "output": 3.75},  # through 2026-12-31 (pricing page)
}

DEFAULT_WEBHOOK_SCHEDULE: list[float] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names it."""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/imagejobs``, else ``~/.local/share/imagejobs``: one place per user,
    whatever the working directory (a temp folder when there is no home)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "imagejobs"
    try:
        return Path.home() / ".local" / "share" / "imagejobs"
    except RuntimeError:  # no HOME and no passwd entry
        return Path(tempfile.gettempdir()) / "imagejobs"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IMAGEJOBS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # Where embedded state lives (SQLite database, embedded broker, blobs) when nothing is set.
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    broker_url: str | None = None
    blob_dir: Path | None = None

    # Gemini. No base URL means real Gemini; the key may come from GEMINI_API_KEY or GOOGLE_API_KEY.
    gemini_base_url: str | None = None
    gemini_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "IMAGEJOBS_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"
        ),
    )
    gemini_api_version: str = "v1beta"
    gemini_timeout_s: float = Field(default=300.0, gt=0)
    model: str = DEFAULT_MODEL
    # Segment jobs on a model that cannot segment run here; unset (blank): they are refused.
    segment_model: str | None = DEFAULT_SEGMENT_MODEL
    # A default model per task, e.g. {"caption": "gemini-3.5-flash-lite"}; others use `model`.
    task_models: dict[str, str] = Field(default_factory=dict)
    inline_limit_bytes: int = Field(default=20_000_000, gt=0)
    file_reuse_margin_s: int = Field(default=3600, ge=0)
    file_active_timeout_s: float = Field(default=300.0, gt=0)

    # Images.
    max_image_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=100_000_000, gt=0)
    downscale_longest_side: int | None = Field(default=None, gt=0)
    max_images_per_job: int = Field(default=3600, gt=0, le=3600)

    # Jobs and workers.
    max_attempts: int = Field(default=6, ge=1)
    retry_base_s: float = Field(default=2.0, ge=0)
    retry_max_s: float = Field(default=300.0, ge=0)
    park_after_s: float = Field(default=30.0, ge=0)
    lease_s: float = Field(default=600.0, gt=0)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    worker_concurrency: int = Field(default=200, ge=1)
    # Each worker writes a file named after its node here once it consumes (process managers,
    # health checks and the test harness read it; brokers without broadcast cannot be pinged).
    ready_dir: Path | None = None
    prices: dict[str, dict[str, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    # Webhooks and URL fetching.
    webhook_schedule_s: list[float] = Field(default_factory=lambda: list(DEFAULT_WEBHOOK_SCHEDULE))
    webhook_schedule_scale: float = Field(default=1.0, ge=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # Signs callbacks of jobs that belong to no producer (CLI, Celery interop without one).
    webhook_secret: SecretStr | None = None
    url_allowlist: list[str] = Field(default_factory=list)
    fetch_max_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    fetch_timeout_s: float = Field(default=30.0, gt=0)

    # Results console (api/console) ----------------------------------------------------------
    # The operator's sign-in, "user:password": sees every producer's jobs. Unset: API keys only.
    console_admin: SecretStr | None = None
    # Signs the console's session cookies. Unset: a random secret per API process, so sessions
    # end when it restarts and are not shared between processes (set it for several processes).
    console_secret: SecretStr | None = None
    console_session_s: int = Field(default=12 * 3600, gt=0)  # a sign-in lasts this long
    # Send the console's cookie over HTTPS only (set when the API is served behind TLS).
    console_secure_cookie: bool = False

    @field_validator("console_admin")
    @classmethod
    def _console_user_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            user, _, password = value.get_secret_value().partition(":")
            if not user.strip() or not password:
                raise ValueError("must be user:password")
        return value

    @field_validator("console_secret")
    @classmethod
    def _console_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value

    # ------------------------------------------------------------------------ results console

    # Flower's basic auth, "user:password" (several separated by commas); needed off loopback.
    flower_basic_auth: SecretStr | None = None

    # Flower's history (its persistent mode) ------------------------------------------------
    # The state file (dbm may add a suffix); unset: flower/flower.db under the data folder.
    # It is saved every flower_save_interval_s and when Flower stops: a killed Flower loses at
    # most that much of its task list.
    flower_db: Path | None = None
    flower_save_interval_s: float = Field(default=5.0, ge=0.1, le=86_400)

    @property
    def effective_flower_db(self) -> Path:
        return self.flower_db or self.data_dir / "flower" / "flower.db"

    # ---------------------------------------------------------------- Flower's history

    # Quota governance, shared by every worker through Redis (see README "Quota governance").
    # None: the broker's Redis when the broker is Redis, else governance is off.
    governance_redis_url: str | None = None
    gemini_project: str = Field(default="default", min_length=1, max_length=100)
    # Model id (or "*") -> {"rpm", "tpm", "rpd", "max_concurrent", "headroom", "burst_s"}.
    quotas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    quota_wait_s: float = Field(default=2.0, ge=0)  # wait this long in the thread, else park
    breaker: dict[str, Any] = Field(default_factory=dict)  # BreakerPolicy fields
    fallback_models: dict[str, list[str]] = Field(default_factory=dict)  # task -> chain
    # Producer name (or "*") -> {"daily_usd", "monthly_usd"}; days and months in budget_timezone.
    budgets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    budget_timezone: str = "UTC"
    budget_reservation_ttl_s: float = Field(default=900.0, gt=0)
    # Producer name (or "*") -> weight (default 1), and -> {"max_running", "rate_per_min"}.
    producer_weights: dict[str, float] = Field(default_factory=dict)
    producer_limits: dict[str, dict[str, Any]] = Field(default_factory=dict)
    result_cache_ttl_s: float = Field(default=86_400.0, ge=0)  # 0: no result cache

    @field_validator(
        "database_url",
        "broker_url",
        "gemini_base_url",
        "segment_model",
        "console_admin",
        "console_secret",
        "flower_basic_auth",
        "metrics_port",
        "metrics_basic_auth",
        "metrics_dir",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("postgresql+psycopg://", "sqlite://")):
            raise ValueError("must be a postgresql:// or sqlite:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str | None) -> str | None:
        if value is None:
            return None
        schemes = ("redis://", "rediss://", "sqla+", "amqp://", "memory://")
        if not value.startswith(schemes):
            raise ValueError("must be a redis://, amqp:// or sqla+ URL")
        return value

    @field_validator("flower_basic_auth", "metrics_basic_auth")
    @classmethod
    def _user_password_pairs(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for pair in value.get_secret_value().split(","):
                user, _, password = pair.partition(":")
                if not user or not password:
                    raise ValueError("must be user:password (several separated by commas)")
        return value

    @field_validator("data_dir", "blob_dir", "flower_db", "metrics_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

    @field_validator("task_models")
    @classmethod
    def _known_tasks(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown task(s) {', '.join(unknown)}; tasks are {', '.join(TASKS)}")
        return value

    @field_validator("gemini_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _governance_parses(self) -> Settings:
        governance_config(self)  # a mistake in a quota, budget or chain fails at start
        return self

    # Metrics (imagejobs.observability; README "Metrics") ----------------------------------------
    # The worker host's /metrics port (its supervisor serves what every child counted); unset:
    # no endpoint. 0: any free port (logged). The API serves /metrics on its own port always.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_address: str = "127.0.0.1"  # where the worker's endpoint listens (0.0.0.0: all)
    # "user:password" (several separated by commas): both /metrics ask for it. Unset: open.
    metrics_basic_auth: SecretStr | None = None
    # The worker host's prometheus_client multiprocess folder, emptied at every start; unset: a
    # fresh temporary folder per start (removed at exit). One folder per worker host.
    metrics_dir: Path | None = None
    # The API's /metrics includes the queue depth (one Postgres count and one Redis LLEN per
    # scrape); turn it off on all API processes but one so it is not counted twice.
    metrics_queue_depth: bool = True

    # ---------------------------------------------------------------------------------- metrics

    # Derived values -------------------------------------------------------------------------

    @functools.cached_property
    def governance(self) -> GovernanceConfig:
        return governance_config(self)

    @property
    def effective_governance_redis_url(self) -> str | None:
        if self.governance_redis_url:
            return self.governance_redis_url
        broker = self.effective_broker_url
        return broker if broker.startswith(("redis://", "rediss://")) else None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'imagejobs.db'}"

    @property
    def effective_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{self.data_dir / 'broker.db'}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.effective_broker_url.startswith("sqla+")

    def api_key(self) -> str | None:
        return self.gemini_api_key.get_secret_value() if self.gemini_api_key else None

    def webhook_delays(self) -> list[float]:
        return [d * self.webhook_schedule_scale for d in self.webhook_schedule_s]


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one message that names each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:  # a whole-settings check names its variables itself
                message = (
                    "IMAGEJOBS_" + "_".join(str(p) for p in error["loc"]).upper() + ": " + message
                )
            problems.append(message)
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()


def dump_public(settings: Settings) -> dict[str, Any]:
    """Settings as a dict safe to log: secrets masked."""
    data = json.loads(settings.model_dump_json())
    for secret in ("gemini_api_key", "webhook_secret", "flower_basic_auth", "metrics_basic_auth"):
        if data.get(secret):
            data[secret] = "***"
    return data
