"""Liveness and readiness, outside /v1 so that load balancers never depend on the API version."""

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.api import ApiModel
from app.config import Settings
from app.db import read_only_reason
from app.db_location import FIX
from app.http.problems import unwritable
from app.reference import service as reference_service

router = APIRouter(tags=["health"])


def migration_heads(settings: Settings) -> set[str]:
    """The revision(s) this build expects the database to be at."""
    return set(ScriptDirectory.from_config(Config(str(settings.alembic_ini))).get_heads())


class Ping(ApiModel):
    status: str = Field(examples=["ok"])


class ReadinessCheck(ApiModel):
    name: str = Field(examples=["database"])
    ok: bool
    degraded: bool = Field(
        default=False, description="Serving, but some requests fail (named in detail)."
    )
    detail: str = Field(examples=["reachable"])


class Readiness(ApiModel):
    status: str = Field(
        description="ok; degraded (200) when a check passed but names something broken that "
        "only some requests need; unavailable (503) when any check failed."
    )
    checks: list[ReadinessCheck]


@router.get("/_ping", operation_id="health-ping", response_model=Ping)
async def ping() -> Ping:
    """Liveness: the process answers. Touches no database."""
    return Ping(status="ok")


@router.get(
    "/_status",
    operation_id="health-status",
    response_model=Readiness,
    responses={503: {"description": "Not ready", "model": Readiness}},
)
async def status(request: Request, response: Response) -> Readiness:
    """Readiness: the database answers and takes writes, is at the migration head, has a model."""
    expected: set[str] = request.app.state.migration_heads
    checks: list[ReadinessCheck] = []
    try:
        async with request.app.state.engine.connect() as connection:
            # A database that answers reads but refuses every write serves no one well: the
            # instance is taken out, and the check says why.
            read_only = await read_only_reason(connection)
            await connection.execute(text("SELECT 1"))
            checks.append(
                ReadinessCheck(
                    name="database", ok=read_only is None, detail=read_only or "reachable"
                )
            )
            try:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
                current = {row[0] for row in rows}
            except SQLAlchemyError:  # reachable, but never migrated
                current = set()
        at_head = current == expected
        checks.append(
            ReadinessCheck(
                name="migrations",
                ok=at_head,
                detail=(
                    f"at head {', '.join(sorted(expected))}"
                    if at_head
                    else f"database at {sorted(current) or 'no revision'}, "
                    f"expected {sorted(expected)}: {FIX}"
                ),
            )
        )
        if at_head:
            checks.append(await _reference_model(request))
    except (SQLAlchemyError, OSError) as exc:
        checks = [
            ReadinessCheck(
                name="database",
                ok=False,
                # Only this cause is named: other driver messages can carry internal addresses.
                detail="read-only: the database file cannot be written"
                if unwritable(exc)
                else f"unreachable ({type(exc).__name__})",
            ),
            ReadinessCheck(name="migrations", ok=False, detail="not checked"),
        ]
    ready = all(check.ok for check in checks)
    degraded = any(check.degraded for check in checks)
    state = "unavailable" if not ready else "degraded" if degraded else "ok"
    response.status_code = 200 if ready else 503
    return Readiness(status=state, checks=checks)


async def _reference_model(request: Request) -> ReadinessCheck:
    """The default reference model is installed and readable: without it every analysis
    fails, so the instance is not ready. A variant that cannot be read fails only the requests
    that name it: the instance still serves, degraded. Only reads: a probe that load balancers
    call every few seconds must never write. Models are installed at start-up and by
    migrations."""
    found = await reference_service.health(request.app.state.sessions.reads)
    if found.default_problem is not None:
        hint = (
            ": run 'alembic upgrade head' (it installs the shipped models)"
            if found.default_problem == "not installed"
            else ""
        )
        return ReadinessCheck(
            name="referenceModel",
            ok=False,
            detail=f"default {found.default} {found.default_problem}{hint}",
        )
    if found.unreadable or found.unreadable_variants:
        broken = [*found.unreadable]
        if found.unreadable_variants:
            broken.append(f"{found.unreadable_variants} organisation variant(s) (see the log)")
        return ReadinessCheck(
            name="referenceModel",
            ok=True,
            degraded=True,
            detail=f"default {found.default}; cannot be read, so requests naming them answer "
            f"503: {', '.join(broken)}",
        )
    return ReadinessCheck(name="referenceModel", ok=True, detail=f"default {found.default}")
