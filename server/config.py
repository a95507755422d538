"""Settings, read once from the environment (SPEC section 7).

Tests build a Settings directly instead of touching os.environ.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # Unset: an embedded PostgreSQL started under data_dir.
    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    listen: str = Field(
        default="127.0.0.1:50051", validation_alias=AliasChoices("AWOOOP_LISTEN", "listen")
    )
    # The HTTP server: provider webhooks, the console's REST API, SSE, probes.
    http_listen: str = Field(
        default="127.0.0.1:8080",
        validation_alias=AliasChoices("AWOOOP_HTTP_LISTEN", "http_listen"),
    )
    # Prefix of the HTTP API's paths (e.g. "/api/v1"), probes excepted.
    http_prefix: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~-]+)*$",
        validation_alias=AliasChoices("AWOOOP_HTTP_PREFIX", "http_prefix"),
    )
    # Logs: "json", "console", or "auto" (JSON unless stdout is a terminal).
    log_format: str = Field(
        default="auto",
        pattern="^(auto|json|console)$",
        validation_alias=AliasChoices("AWOOOP_LOG_FORMAT", "log_format"),
    )
    log_level: str = Field(
        default="INFO",
        pattern="(?i)^(debug|info|warning|error)$",
        validation_alias=AliasChoices("AWOOOP_LOG_LEVEL", "log_level"),
    )
    # Unset: a dev key file is made under data_dir, its token printed once.
    auth_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("AWOOOP_AUTH_FILE", "auth_file")
    )
    require_read_auth: bool = Field(
        default=False,
        validation_alias=AliasChoices("AWOOOP_REQUIRE_READ_AUTH", "require_read_auth"),
    )
    heartbeat_namespace: str = Field(
        default="awoooi-prod",
        validation_alias=AliasChoices("AWOOOP_HEARTBEAT_NAMESPACE", "heartbeat_namespace"),
    )
    # When set, Sentry webhooks must carry a valid Sentry-Hook-Signature.
    sentry_client_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AWOOOP_SENTRY_CLIENT_SECRET", "sentry_client_secret"),
    )
    data_dir: Path = Field(
        default=Path(".data"), validation_alias=AliasChoices("AWOOOP_DATA_DIR", "data_dir")
    )
    # Seconds that SIGTERM gives calls in flight before they are cancelled.
    shutdown_grace: float = Field(
        default=10.0, validation_alias=AliasChoices("AWOOOP_SHUTDOWN_GRACE", "shutdown_grace")
    )
    # The asyncio event loop: "asyncio" (the standard library's) or "uvloop"
    # (libuv's, from the optional `uvloop` extra). Measured side by side in
    # bench/RESULTS.md ("Event loop").
    event_loop: str = Field(
        default="asyncio",
        pattern="^(asyncio|uvloop)$",
        validation_alias=AliasChoices("AWOOOP_EVENT_LOOP", "event_loop"),
    )
    pool_max_size: int = Field(
        default=10, validation_alias=AliasChoices("AWOOOP_POOL_MAX_SIZE", "pool_max_size")
    )
    # Bounds on every call, so that a hung database answers UNAVAILABLE in
    # seconds instead of holding callers: each SQL statement (PostgreSQL's
    # statement_timeout, and the client's own wait for a reply), and a unary
    # call that brings no deadline of its own. Connecting is bounded too
    # (server/storage/database.py).
    statement_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("AWOOOP_STATEMENT_TIMEOUT", "statement_timeout"),
    )
    call_timeout: float = Field(
        default=15.0,
        gt=0,
        validation_alias=AliasChoices("AWOOOP_CALL_TIMEOUT", "call_timeout"),
    )
    # WatchEvents (SPEC section 5). Progress is sent after this many idle
    # seconds; the contract promises at least every 5 s, so more is refused.
    watch_progress_interval: float = Field(
        default=5.0,
        gt=0,
        le=5.0,
        validation_alias=AliasChoices("AWOOOP_WATCH_PROGRESS_INTERVAL", "watch_progress_interval"),
    )
    # Events a subscriber may have queued (in batches shared by all of them);
    # one that falls further behind reads from the database instead.
    watch_queue_events: int = Field(
        default=1024,
        ge=1,
        validation_alias=AliasChoices("AWOOOP_WATCH_QUEUE_EVENTS", "watch_queue_events"),
    )
    # Rows per database read of the watch (the hub's and each catch-up's).
    watch_batch_size: int = Field(
        default=256,
        ge=1,
        validation_alias=AliasChoices("AWOOOP_WATCH_BATCH_SIZE", "watch_batch_size"),
    )
    # Seconds between the health probes that keep grpc.health.v1 following
    # the database (server/readiness.py).
    health_probe_interval: float = Field(
        default=2.0,
        gt=0,
        validation_alias=AliasChoices("AWOOOP_HEALTH_PROBE_INTERVAL", "health_probe_interval"),
    )
    # Retention (SPEC section 9, README "Retention"). Events older than this
    # many days are removed, a week at a time (their partition); 0 keeps them.
    retention_days: int = Field(
        default=90,
        ge=0,
        validation_alias=AliasChoices("AWOOOP_RETENTION_DAYS", "retention_days"),
    )
    # Runs and work-item history (dry-runs, handoffs): operator records, kept
    # longer than the events they were about; 0 keeps them.
    history_retention_days: int = Field(
        default=365,
        ge=0,
        validation_alias=AliasChoices(
            "AWOOOP_HISTORY_RETENTION_DAYS", "history_retention_days"
        ),
    )
    # Seconds between two retention passes (one also runs at start). The pass
    # creates the partitions ahead too, so more than a day is refused.
    retention_interval: float = Field(
        default=3600.0,
        gt=0,
        le=86400.0,
        validation_alias=AliasChoices("AWOOOP_RETENTION_INTERVAL", "retention_interval"),
    )
