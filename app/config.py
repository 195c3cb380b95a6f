"""All configuration, read once from the environment (prefix ``LHS_``) or a ``.env`` file."""

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LHS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./lhs.db",
        description="SQLAlchemy URL. postgresql:// URLs are run with asyncpg.",
    )
    # Sized on purpose: every request holds at most one connection, and waits for one
    # asynchronously, so a small pool serves hundreds of concurrent requests. Size it
    # so that instances x (pool_size + max_overflow) stays under PostgreSQL's max_connections.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=15.0, gt=0)
    db_echo: bool = False
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    log_level: str = "INFO"
    # Host headers this service answers for ("*" for any, "*.example.org" for a domain).
    # Anything else is a 400, so a forged Host can never reach a generated URL. Unset: the
    # loopback names, or any Host once public_base_url is set (URLs are then built from it).
    trusted_hosts: Annotated[list[str] | None, NoDecode] = None
    # The address clients use (https://lhs.example.nhs.uk): Location and page links are built
    # from it, not from the request. Unset: built from the (trusted) Host of the request.
    public_base_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")
    alembic_ini: Path = PROJECT_ROOT / "alembic.ini"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the URLs people paste (postgres://, postgresql://) and pick the async driver."""
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + value[len("sqlite://") :]
        return value

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """LHS_TRUSTED_HOSTS=a.example,b.example (a JSON list works too)."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def allowed_hosts(self) -> list[str]:
        if self.trusted_hosts is not None:
            return self.trusted_hosts
        return ["*"] if self.public_base_url else ["localhost", "127.0.0.1", "[::1]"]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
