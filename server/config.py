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
    pool_max_size: int = Field(
        default=10, validation_alias=AliasChoices("AWOOOP_POOL_MAX_SIZE", "pool_max_size")
    )
