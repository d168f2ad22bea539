"""One Settings object, read from TOS_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOS_", env_file=".env", extra="ignore")

    env: str = "development"  # development | test | production
    database_url: str = f"sqlite:///{Path('var') / 'tos.db'}"
    redis_url: str | None = None
    secret_key: str = DEV_SECRET
    # Where committed outbox rows are handed for delivery: "auto" = Redis when redis_url is set,
    # else an embedded SQLite queue at huey_sqlite_path; "off" = no hand-over (the in-process
    # test suite drains the outbox itself).
    job_queue: str = "auto"
    huey_sqlite_path: str = str(Path("var") / "huey.db")
    # How often the sweeper hands over outbox rows still owed (after a crash, a lost hand-over).
    outbox_sweep_seconds: float = 5.0
    public_cache_seconds: int = 60
    log_level: str = "INFO"
    sql_echo: bool = False
    # Persistent connections per process. Above the number of requests one process serves at
    # once, so connections are reused rather than opened and closed under load.
    db_pool_size: int = 20
    # SQLite waits this long for the write lock before answering 409 BUSY.
    sqlite_busy_timeout_ms: int = 5000
    # Where customers and providers reach this install: the sandbox checkout page's links and
    # the sandbox provider's webhooks go here.
    public_url: str = "http://127.0.0.1:8000"
    # The install-wide payment accounts, used by organizations without their own
    # (PUT /api/v1/payment-accounts/{provider}). Empty = not configured (503 on webhooks).
    stripe_secret_key: str = ""
    stripe_publishable_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""  # tests: a local Stripe-compatible server
    razorpay_key_id: str = ""
    razorpay_key_secret: str = ""
    razorpay_webhook_secret: str = ""
    razorpay_api_base: str = ""
    # The sandbox provider signs its webhooks with this; derived from secret_key when empty.
    sandbox_webhook_secret: str = ""
    # Payments still requires_action after this long are asked about (missed webhooks).
    reconcile_after_minutes: int = 15

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("TOS_SECRET_KEY must be set to a real secret in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
