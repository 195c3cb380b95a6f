"""All configuration, read once from the environment (prefix ``LHS_``) or a ``.env`` file."""

import ipaddress
import json
import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class JwtIssuer(BaseModel):
    """One trusted token issuer and where its signing keys are published."""

    issuer: str = Field(min_length=1)
    jwks_url: str | None = Field(default=None, alias="jwksUrl")
    jwks_path: Path | None = Field(default=None, alias="jwksPath")
    allow_global: bool = Field(
        default=False,
        alias="allowGlobal",
        description="Tokens without the organisation claim are global; refused unless set.",
    )

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _one_source(self) -> "JwtIssuer":
        if (self.jwks_url is None) == (self.jwks_path is None):
            raise ValueError(f"issuer {self.issuer!r}: give exactly one of jwksUrl, jwksPath")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LHS_", env_file=".env", extra="ignore")

    home: Path = Field(
        default_factory=lambda: default_home(),
        description="The project home: a relative SQLite file in LHS_DATABASE_URL (the default "
        "lhs.db included) lives here, whatever the current directory, for the server and "
        "lhs-map alike. Default: the source checkout's folder (where make run puts lhs.db); "
        "installed elsewhere, $XDG_DATA_HOME/lhs-map.",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///lhs.db",
        description="SQLAlchemy URL. postgresql:// URLs are run with asyncpg; a relative "
        "SQLite file is relative to LHS_HOME.",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="A PostgreSQL streaming replica (hot standby) of LHS_DATABASE_URL: gap "
        "analyses, reports, benchmarks and exports read from it; every other read and every "
        "write go to the primary. A caller reads its own writes (docs/deployment.md).",
    )
    replica_wait_seconds: float = Field(
        default=0.05,
        ge=0,
        le=5,
        description="How long a read waits for the replica to replay the caller's last write "
        "before it is read from the primary instead.",
    )
    replica_max_lag_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A replica further behind than this is not read from (the primary is).",
    )
    # Sized on purpose: every request holds at most one connection, and waits for one
    # asynchronously, so a small pool serves hundreds of concurrent requests. Size it
    # so that instances x (pool_size + max_overflow) stays under PostgreSQL's max_connections.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=15.0, gt=0)
    # Overload: each process works on at most this many requests at once (0: no bound).
    # Beyond it a request waits for a slot only if it can expect one within
    # overload_wait_seconds (and the queue has room); otherwise it is refused at once with
    # 503 and Retry-After instead of queueing on the connection pool. At or under
    # db_pool_size: requests beyond the pool would only wait for a connection, and overflow
    # connections are opened and closed again for each of them.
    max_requests_in_flight: int = Field(default=10, ge=0)
    overload_queue: int = Field(default=100, ge=0)
    overload_wait_seconds: float = Field(default=0.5, ge=0)
    overload_exempt_paths: Annotated[list[str], NoDecode] = ["/_ping", "/_status", "/metrics"]
    # SQLite has one writer: a request that writes waits its turn up to this long among its
    # process's writers (instead of overload_wait_seconds), and as long again for other
    # processes' (several workers, the CLI), then answers 503 with Retry-After.
    sqlite_write_timeout_seconds: float = Field(default=10.0, gt=0)
    change_feed_retention_days: int = Field(
        default=30,
        ge=1,
        description="How long a change feed cursor stays good: an older one answers 410 "
        "(re-read everything, then follow the feed from a fresh cursor).",
    )
    change_feed_retry_after_seconds: int = Field(
        default=10,
        ge=1,
        le=3600,
        description="The Retry-After the change feed sends when nothing is new.",
    )
    db_echo: bool = False
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # File imports (CSV or JSON) are streamed, so their limit can be far larger: 20 MiB holds
    # 10,000 rows with long descriptions.
    max_import_bytes: int = Field(default=20 * 1_048_576, ge=1024)
    # An export streams from one read transaction: a client that stops reading would hold it,
    # and a connection of the pool, for as long as it stays connected. Cut off past this.
    export_timeout_seconds: float = Field(default=300.0, gt=0)
    log_level: str = "INFO"
    # auto: aligned, coloured text when stderr is a terminal, JSON lines otherwise.
    log_format: Literal["auto", "json", "console"] = "auto"
    # Host headers this service answers for ("*" for any, "*.example.org" for a domain).
    # Anything else is a 400, so a forged Host can never reach a generated URL. Unset: the
    # loopback names, or any Host once public_base_url is set (URLs are then built from it).
    trusted_hosts: Annotated[list[str] | None, NoDecode] = None
    # The address clients use (https://lhs.example.nhs.uk): Location and page links are built
    # from it, not from the request. Unset: built from the (trusted) Host of the request.
    public_base_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")
    # The proxies or load balancers in front (addresses or networks, comma-separated; "*" for
    # any peer): from these, and only these, X-Forwarded-For and X-Forwarded-Proto name the
    # client and the scheme. Empty: no peer is a proxy, loopback included, and the client is
    # whoever connected (a header a client sends itself would pick its own rate-limit bucket).
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alembic_ini: Path = PROJECT_ROOT / "alembic.ini"
    # The model an analysis uses when a request names none. Only the operator chooses it: no
    # timestamp or field a caller can send decides it. Unset: the highest shipped version.
    default_reference_model: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
    )

    @field_validator("database_url", "database_replica_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        """Accept the URLs people paste (postgres://, postgresql://) and pick the async driver."""
        if value is None:
            return None
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
    def api_key_max_lifetime(self) -> timedelta:
        return timedelta(days=self.api_key_max_lifetime_days)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    # Access control. See docs/security.md for the model these settings configure.
    environment: Literal["development", "test", "production"] = "development"
    auth_enabled: bool = Field(
        default=True, description="Off only outside production: every caller is then an admin."
    )
    api_key_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a verified key is trusted without reading the database again: "
        "the longest a key revoked on another instance may still work here.",
    )
    api_key_max_lifetime_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="The longest a key made through the API may live (an omitted expiry means "
        "this); only the operator's command line makes keys that never expire.",
    )
    jwt_issuers: list[JwtIssuer] = Field(
        default_factory=list, description='JSON, e.g. [{"issuer": "...", "jwksUrl": "..."}].'
    )
    jwt_audience: str = "lhs-asset-map"
    jwt_algorithms: list[Literal["RS256", "ES256"]] = Field(
        default=["RS256", "ES256"], min_length=1
    )
    jwt_role_claim: str = "role"
    jwt_organisation_claim: str = Field(
        default="organisation", description="An organisation id or ODS code: the token's scope."
    )
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    rate_limit: str = Field(
        default="600/minute", description="Per credential (by client address without one)."
    )
    rate_limit_exempt_paths: Annotated[list[str], NoDecode] = ["/_ping", "/_status", "/metrics"]
    redis_url: str | None = Field(default=None, description="Share rate limits across instances.")
    rate_limit_key_prefix: str = Field(
        default="lhs-rate", description="Separates deployments that share one Redis."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Browser origins allowed."
    )
    frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins that may frame our HTML pages (portals)."
    )
    link_secret: str | None = Field(
        default=None,
        min_length=32,
        description="Signs browser links. Unset: a random secret per process (development only).",
    )
    # Benchmarks by organisation type (docs/security.md, "Benchmarks: the disclosure rule").
    benchmark_minimum_organisations: int = Field(
        default=5,
        ge=1,
        description="A benchmark figure is shown only when at least this many organisations "
        "outside the organisation's own system stand behind it.",
    )
    benchmark_minimum_systems: int = Field(
        default=2,
        ge=0,
        description="... and they come from at least this many systems other than the "
        "organisation's own.",
    )
    benchmark_refresh_seconds: int = Field(
        default=86_400,
        ge=60,
        description="How old the benchmark snapshot may grow before start-up's chores take "
        "a new one (daily by default).",
    )
    benchmark_within_scope: bool = Field(
        default=False,
        description="Compare an organisation only with organisations of its type inside the "
        "caller's own scope, instead of with the rest of the service.",
    )
    link_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    link_cookie_seconds: int = Field(
        default=900,
        ge=10,
        le=3600,
        description="How long a browser's link cookie lasts at most (never past its link).",
    )

    @field_validator(
        "cors_origins",
        "forwarded_allow_ips",
        "frame_ancestors",
        "rate_limit_exempt_paths",
        "overload_exempt_paths",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        """Comma-separated like LHS_TRUSTED_HOSTS (a JSON list works too)."""
        return cls._comma_separated(value)

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '600/minute': {exc}") from exc
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as exc:
                    raise ValueError(f"not an address or network: {entry!r}") from exc
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        if "*" in value and len(value) > 1:
            raise ValueError("'*' allows every origin: list origins, or give '*' alone")
        return value

    @model_validator(mode="after")
    def _at_home(self) -> "Settings":
        self.home = self.home.expanduser().resolve()
        self.database_url = anchored(self.database_url, self.home)
        return self

    @model_validator(mode="after")
    def _replica_of_postgres(self) -> "Settings":
        if self.database_replica_url is not None and not (
            self.database_url.startswith("postgresql")
            and self.database_replica_url.startswith("postgresql")
        ):
            raise ValueError("database_replica_url is a PostgreSQL standby of a PostgreSQL primary")
        return self

    @model_validator(mode="after")
    def _secure_in_production(self) -> "Settings":
        if self.environment == "production":
            if not self.auth_enabled:
                raise ValueError("auth_enabled cannot be false in production")
            if self.link_secret is None:
                raise ValueError("link_secret must be set in production (shared by instances)")
            if "*" in self.cors_origins:
                raise ValueError("cors_origins cannot be '*' in production: list the portals")
        return self


def default_home() -> Path:
    """A source checkout is its own home (lhs.db beside the Makefile, as `make run` has always
    put it); an installed copy, whose code lives among the site-packages, uses the user's data
    folder instead."""
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "alembic.ini").is_file():
        return PROJECT_ROOT
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "lhs-map"


_SQLITE = "sqlite+aiosqlite:///"


def anchored(database_url: str, home: Path) -> str:
    """The URL with a relative SQLite file made absolute under ``home`` (other databases, an
    absolute file, memory and ``file:`` URIs as given)."""
    if not database_url.startswith(_SQLITE):
        return database_url
    name, question, query = database_url[len(_SQLITE) :].partition("?")
    if not name or name == ":memory:" or name.startswith("file:") or Path(name).is_absolute():
        return database_url
    return f"{_SQLITE}{(home / name).resolve()}{question}{query}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def prometheus_multiproc_dir() -> Path | None:
    """Where worker processes share their metrics, when there are several (prometheus_client's
    own variable, read from the real environment only, as prometheus_client reads it when it is
    imported: a value in .env would make the two disagree)."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None
