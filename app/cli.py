"""``lhs-map``: the operator's command line. It acts as the operator (a global admin, audited
as ``operator``), against the database the server uses, found the same way whatever the
current directory (LHS_DATABASE_URL; a relative SQLite file, lhs.db by default, under LHS_HOME),
which must be migrated (``lhs-map migrate``).

Output is for scripts: a command's result alone on standard output
(``KEY=$(lhs-map create-api-key --role admin)``), notes on standard error, and every failure
one line on standard error with a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import yaml
from pydantic import ValidationError

from app import json_input
from app.auth import keys
from app.auth.principal import OPERATOR
from app.auth.schemas import GRACE_DEFAULT_SECONDS, GRACE_MAX_SECONDS, ApiKeyCreate, ApiKeyRotate
from app.config import Settings, get_settings
from app.errors import AppError, ValidationFailed
from app.ods import records as ods_records
from app.reference.schemas import VERSION_PATTERN
from app.transfer.map_schemas import MapDocument
from app.vocabulary import Role


class _Later:
    """A module imported when a command first uses it: `lhs-map --help` (and a typo) never
    loads the web stack or the database layer, which cost most of a second."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    import sqlmodel
    import uvicorn
    from alembic import command as alembic_command
    from alembic import config as alembic_config
    from sqlalchemy import exc as sqlalchemy_exc
    from sqlmodel.ext.asyncio.session import AsyncSession

    from app import db, db_location, models
    from app.auth import keys_service, revocations
    from app.benchmarks import snapshot as benchmark_snapshot
    from app.db import Sessions
    from app.demo import service as demo_service
    from app.http import health
    from app.http import metrics as http_metrics
    from app.ods import service as ods_service
    from app.reference import gate as reference_gate
    from app.transfer import map_import, maps
else:
    uvicorn = _Later("uvicorn")
    alembic_command = _Later("alembic.command")
    alembic_config = _Later("alembic.config")
    sqlalchemy_exc = _Later("sqlalchemy.exc")
    sqlmodel = _Later("sqlmodel")
    db = _Later("app.db")
    db_location = _Later("app.db_location")
    models = _Later("app.models")
    keys_service = _Later("app.auth.keys_service")
    revocations = _Later("app.auth.revocations")
    benchmark_snapshot = _Later("app.benchmarks.snapshot")
    demo_service = _Later("app.demo.service")
    health = _Later("app.http.health")
    http_metrics = _Later("app.http.metrics")
    ods_service = _Later("app.ods.service")
    reference_gate = _Later("app.reference.gate")
    map_import = _Later("app.transfer.map_import")
    maps = _Later("app.transfer.maps")

T = TypeVar("T")
# Click 8.2+ raises this for a group called without a command; older versions print the help.
NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Failure(click.ClickException):
    """One line on standard error, exit status 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Operate the LHS asset-mapping service (its database: LHS_DATABASE_URL, a relative SQLite
    file under LHS_HOME)."""


@cli.command("create-api-key")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--organisation", "organisation", help="Scope: an organisation id or ODS code.")
@click.option("--name", default="created with lhs-map", show_default=True)
@click.option(
    "--expires-at",
    "expires_at",
    help="ISO 8601 with a zone, e.g. 2027-01-31T00:00Z. Omitted: the key never expires.",
)
def create_api_key(role: str, organisation: str | None, name: str, expires_at: str | None) -> None:
    """Create an API key and print it (only it) on standard output.

    Unlike the API, which caps a key's lifetime, the operator may make a key that never expires."""

    async def create(session: AsyncSession) -> str:
        scope = None
        if organisation is not None:
            scope = await keys_service.organisation_ref(session, organisation)
        data = ApiKeyCreate.model_validate(
            {"name": name, "role": role, "organisationId": scope, "expiresAt": expires_at}
        )
        row, key = await keys_service.create(
            session, principal=OPERATOR, data=data, max_lifetime=None
        )
        await session.commit()
        where = f"organisation {scope}" if scope else "the whole service"
        click.echo(f"Created {row.prefix} ({role}, {where}); it is shown only now.", err=True)
        return key

    click.echo(_run(create))


@cli.command("revoke-api-key")
@click.argument("reference")
def revoke_api_key(reference: str) -> None:
    """Revoke an API key, named by its prefix or id.

    Running instances stop accepting it at once where LHS_REDIS_URL is set (the change is
    announced to them); otherwise they may for up to LHS_API_KEY_CACHE_SECONDS."""

    async def revoke(session: AsyncSession) -> None:
        row = await keys_service.find(session, reference)
        async with _announcing():
            if not await keys_service.revoke(session, principal=OPERATOR, key_id=row.id):
                click.echo(f"{row.prefix} was already revoked; nothing changed.", err=True)
                return
            await session.commit()
        click.echo(f"Revoked {row.prefix}.{_propagation()}", err=True)

    _run(revoke)


@cli.command("rotate-api-key")
@click.argument("reference")
@click.option(
    "--grace-period",
    "grace_period",
    default=GRACE_DEFAULT_SECONDS,
    show_default=True,
    type=click.IntRange(0, GRACE_MAX_SECONDS),
    help="Seconds the old secret keeps working (0 to 86400; 0 for a leaked secret).",
)
def rotate_api_key(reference: str, grace_period: int) -> None:
    """Give an API key (its prefix or id) a new secret and print the key (only it) on standard
    output. Its id, prefix, role, scope and expiry stay; the old secret keeps working for the
    grace period, then is refused."""

    async def rotate(session: AsyncSession) -> str:
        row = await keys_service.find(session, reference)
        data = ApiKeyRotate.model_validate({"gracePeriodSeconds": grace_period})
        async with _announcing():
            row, key = await keys_service.rotate(
                session, principal=OPERATOR, key_id=row.id, data=data
            )
            await session.commit()
        until = row.previous_secret_expires_at
        old = f"works until {until.isoformat()}" if until else "no longer works"
        click.echo(f"Rotated {row.prefix}: the old secret {old}.{_propagation()}", err=True)
        return key

    click.echo(_run(rotate))


@contextlib.asynccontextmanager
async def _announcing() -> AsyncIterator[None]:
    """Announce key changes committed inside to the running instances (where LHS_REDIS_URL is
    set), and wait until they are sent before the command exits."""
    broadcaster = revocations.from_settings(get_settings())
    try:
        yield
        await revocations.published()
    finally:
        if broadcaster is not None:
            await broadcaster.close()


def _propagation() -> str:
    delay = revocations.delay_seconds(get_settings())
    if not delay:
        return " Running instances were told (LHS_REDIS_URL)."
    return (
        f" Running instances may still accept it as it was for up to {delay:g} seconds "
        "(LHS_API_KEY_CACHE_SECONDS; set LHS_REDIS_URL to tell them at once)."
    )


@cli.command("migrate")
def migrate() -> None:
    """Create or upgrade the database to this version (alembic upgrade head); it also installs
    the reference models that ship with this version."""
    settings = get_settings()
    path = db_location.sqlite_file(settings.database_url)
    if path is not None and not path.parent.is_dir():
        # Said before the driver tries: its own failure leaves a worker thread that may print a
        # traceback after this command has said what went wrong.
        raise Failure(f"cannot migrate the database: the folder {path.parent} does not exist")
    config = alembic_config.Config(str(settings.alembic_ini))
    config.attributes["database_url"] = settings.database_url
    config.attributes["configure_logger"] = False
    try:
        alembic_command.upgrade(config, "head")
    except (sqlalchemy_exc.SQLAlchemyError, OSError) as exc:
        raise Failure(f"cannot migrate the database ({type(exc).__name__}): {exc}") from exc
    heads = ", ".join(sorted(health.migration_heads(settings)))
    click.echo(f"The database {db_location.shown(settings.database_url)} is at {heads}.", err=True)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--metrics-dir",
    default=".metrics",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where worker processes add up their metrics (emptied at start).",
)
def serve(host: str, port: int, workers: int, metrics_dir: Path) -> None:
    """Serve the API with uvicorn, with the flags `make run` uses (no Server header, the access
    log written by the app itself, and uvicorn's own X-Forwarded-* handling off: the app
    trusts those headers from LHS_FORWARDED_ALLOW_IPS only)."""
    directory = metrics_dir / str(port)
    http_metrics.prepare(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        access_log=False,
        server_header=False,
    )


@cli.command("local-admin-key", hidden=True)
@click.option(
    "--file",
    "path",
    default=".lhs-admin-key",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the key is kept (git-ignored).",
)
def local_admin_key(path: Path) -> None:
    """For `make run`: make sure a working global admin key is kept in FILE (created once,
    made again if it was revoked or deleted). Prints how to use it on standard error."""
    existing = path.read_text(encoding="utf-8").strip() if path.exists() else None

    async def ensure(session: AsyncSession) -> str | None:
        if existing is not None and await _still_works(session, existing):
            return None
        data = ApiKeyCreate.model_validate({"name": "local admin (make run)", "role": "admin"})
        _, key = await keys_service.create(
            session, principal=OPERATOR, data=data, max_lifetime=None
        )
        await session.commit()
        return key

    created = _run(ensure)
    if created is not None:
        path.write_text(created + "\n", encoding="utf-8")
        path.chmod(0o600)
    click.echo(
        f"{'Created' if created else 'Using'} the local admin key in {path}. Send it with\n"
        f'  curl -H "Authorization: Bearer $(cat {path})" http://127.0.0.1:8000/v1/organisations\n'
        "or paste it into /docs (Authorize).",
        err=True,
    )


@cli.command("export")
@click.argument("organisation")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the map to this file instead of standard output.",
)
def export_map(organisation: str, output: Path | None) -> None:
    """Export ORGANISATION (an id or ODS code) and everything below it, with their assets,
    activities, plan items and assessments, as one JSON document for `lhs-map import`
    elsewhere."""

    async def read(sessions: Sessions) -> str:
        async with sessions.read() as session:
            organisation_id = await keys_service.organisation_ref(session, organisation)
        # The API's export: one snapshot, then the event, audited as the operator's.
        document = await maps.export_map(
            sessions.reads, principal=OPERATOR, organisation_id=organisation_id
        )
        counts = f"{len(document.organisations)} organisation(s), {len(document.assets)} asset(s)"
        click.echo(f"Exported {counts}.", err=True)
        return document.model_dump_json(by_alias=True, indent=2)

    text = _run_with_sessions(read)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--keep-ids",
    is_flag=True,
    help="Keep the document's ids (an exact restore); refused if any of them is here already.",
)
def import_map(file: str, keep_ids: bool) -> None:
    """Import a map written by `lhs-map export` (FILE, or - for standard input), all or
    nothing, with new ids (printed on standard error as old=new), or with its own ids and
    timestamps (--keep-ids). Prints the root organisation's id."""
    max_bytes = get_settings().max_import_bytes
    try:
        if file == "-":
            raw = json_input.read(sys.stdin.buffer, max_bytes=max_bytes, name="standard input")
        else:
            raw = json_input.read_file(Path(file), max_bytes=max_bytes)
        json_input.check(raw)
        document = MapDocument.model_validate_json(raw)
    except AppError as exc:
        raise Failure(_describe(exc)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"]) or "document"
        raise Failure(
            f"{file} is not a map export ({exc.error_count()} problem(s); first at {where}: "
            f"{first['msg']})"
        ) from exc

    async def write(session: AsyncSession) -> str:
        result = await map_import.restore(
            session, principal=OPERATOR, document=document, keep_ids=keep_ids
        )
        await session.commit()
        click.echo(
            f"Imported {result.organisations} organisation(s), {result.assets} asset(s), "
            f"{result.activities} activity(ies), {result.plan_items} plan item(s), "
            f"{result.assessments} assessment(s), "
            f"{result.reference_models} reference model(s).",
            err=True,
        )
        if not keep_ids:
            for old, new in result.id_map.items():
                click.echo(f"{old}={new}", err=True)
        return str(result.root_id)

    click.echo(_run(write))


@cli.command("load-reference-model")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", help="The version to load it as (else the file's own).")
def load_reference_model(file: Path, version: str | None) -> None:
    """Load a reference model (YAML or JSON, as app/reference/data holds) as a new version,
    with the checks PUT /v1/reference-models/{version} makes, audited as the operator's. A base
    model (basedOn null) becomes the default only if LHS_DEFAULT_REFERENCE_MODEL names it."""
    settings = get_settings()
    raw = file.read_bytes()
    if len(raw) > settings.max_body_bytes:
        raise Failure(f"{file} is larger than LHS_MAX_BODY_BYTES ({settings.max_body_bytes})")
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise Failure(f"{file} is not YAML or JSON: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict):
        raise Failure(f"{file} does not hold a reference model (a mapping)")
    # YAML reads dates and numbers itself: JSON's types, as PUT receives them.
    document = json.loads(json.dumps(document, default=str))
    name = version or document.get("version")
    if not isinstance(name, str) or not re.fullmatch(VERSION_PATTERN, name):
        raise Failure(f"{file}: give the version (--version, or a 'version' in the file)")

    try:
        data = reference_gate.validated(document)
    except ValidationFailed as exc:
        first = exc.errors[0]
        where = "/".join(str(part) for part in first.field) or "document"
        raise Failure(
            f"{file} is not a valid reference model ({len(exc.errors)} problem(s); first at "
            f"{where}: {first.message})"
        ) from exc

    async def load(session: AsyncSession) -> str:
        loaded = await reference_gate.load(
            session, principal=OPERATOR, version=name, data=data, create_only=True
        )
        await session.commit()
        kind = "a base model" if loaded.model.based_on is None else "a variant for everyone"
        count = len(loaded.model.capabilities)
        click.echo(f"Loaded {name}, {kind}, {count} capabilities.", err=True)
        return name

    click.echo(_run(load))


async def _still_works(session: AsyncSession, key: str) -> bool:
    """A global admin key of this database, not revoked and not expired."""
    parsed = keys.parse(key)
    if parsed is None:
        return False
    prefix, secret = parsed
    key_of = sqlmodel.select(models.ApiKey).where(models.ApiKey.prefix == prefix)
    row = (await session.exec(key_of)).first()
    return (
        row is not None
        and keys.secret_matches(secret, row.secret_hash)
        and row.revoked_at is None
        and (row.expires_at is None or row.expires_at > db.utcnow())
        and row.role == Role.ADMIN
        and row.organisation_id is None
    )


@cli.command("import-ods")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check everything and list what would be created or updated; write nothing.",
)
def import_ods(file: Path, dry_run: bool) -> None:
    """Create or update organisations from ODS Organisation Reference Data.

    FILE is JSON: a list of records as the ODS ORD API returns them ({"Organisation": {"Name",
    "OrgId", "Status", "Roles", "Rels", ...}}), or one record. Organisations are matched by ODS
    code; their type comes from their ODS roles and their parent from their relationships
    (to organisations in the file or already here). Names in ODS's capitals are shown in a
    readable case, ODS's spelling kept as the official name. Inactive records are skipped.
    All or nothing, and running it again with the same file changes nothing. Prints what it
    did (with --dry-run: what it would do, record by record).
    """

    async def run(sessions: Sessions) -> ods_service.OdsImportResult:
        data = ods_records.read_file(file, max_bytes=get_settings().max_import_bytes)
        return await ods_service.import_ods(
            sessions.reads, data, principal=OPERATOR, dry_run=dry_run
        )

    result = _run_with_sessions(run)
    if dry_run:
        for action, code, name in result.actions():
            click.echo(f"{action}\t{code}\t{name}".rstrip())
    for code, named in result.parents_not_found:
        click.echo(f"{code}: no parent linked; none of {', '.join(named)} is here.", err=True)
    click.echo(result.summary())


@cli.command("load-demo")
def load_demo() -> None:
    """Load Demo Valley, a fictional ICS with six members, to explore the service with.

    Its assets and activities give the gap analysis and the board report something to show.
    Prints the ICS's id (ICS=$(lhs-map load-demo)). Loading it again changes nothing.
    """
    result = _run_with_sessions(
        lambda sessions: demo_service.load_demo(sessions.reads, principal=OPERATOR)
    )
    click.echo(result.summary(), err=True)
    if result.loaded:
        # So that the demo's benchmarks show at once, not at the next scheduled snapshot.
        _run_with_sessions(
            lambda sessions: benchmark_snapshot.refresh(sessions, every=timedelta(0), force=True)
        )
    click.echo(result.ics_id)


@cli.group("benchmarks")
def benchmarks() -> None:
    """The benchmark snapshot that organisations are compared from."""


@benchmarks.command("refresh")
def refresh_benchmarks() -> None:
    """Take a new benchmark snapshot now (the service also takes one on its schedule)."""
    result = _run_with_sessions(
        lambda sessions: benchmark_snapshot.refresh(sessions, every=timedelta(0), force=True)
    )
    assert result is not None  # a forced refresh always takes one
    click.echo(
        f"Benchmark snapshot taken at {result.taken_at.isoformat()} with model "
        f"{result.reference_model}: {result.organisations} organisations, "
        f"{result.entries} figures."
    )


def _run_with_sessions(use_case: Callable[[Sessions], Awaitable[T]]) -> T:
    """For a use case that runs its own transactions (an import, an export)."""
    return _guarded(lambda settings: _in_sessions(settings, use_case))


def _run(use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return _guarded(lambda settings: _in_session(settings, use_case))


def _guarded(start: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    settings = get_settings()
    try:
        return asyncio.run(start(settings))
    except AppError as exc:
        raise Failure(_describe(exc)) from exc
    except ValidationError as exc:
        problems = "; ".join(f"{_option(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise Failure(problems) from exc
    except db_location.NotReady as exc:
        raise Failure(str(exc)) from exc
    except (sqlalchemy_exc.SQLAlchemyError, OSError) as exc:
        raise Failure(f"cannot use the database ({type(exc).__name__}): {exc}") from exc


async def _in_session(settings: Settings, use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
    db_location.require_file(settings)
    engine = db.make_engine(settings)
    sessions = db.make_sessions(engine, settings)
    try:
        async with sessions.write() as session:
            await _require_migrated(session, settings)
            return await use_case(session)
    finally:
        await sessions.dispose()
        await engine.dispose()


async def _in_sessions(settings: Settings, use_case: Callable[[Sessions], Awaitable[T]]) -> T:
    db_location.require_file(settings)
    engine = db.make_engine(settings)
    sessions = db.make_sessions(engine, settings)
    try:
        async with sessions.read() as session:
            await _require_migrated(session, settings)
        return await use_case(sessions)
    finally:
        await sessions.dispose()
        await engine.dispose()


async def _require_migrated(session: AsyncSession, settings: Settings) -> None:
    connection = await session.connection()
    await db_location.require_migrated(connection, settings, health.migration_heads(settings))


def _option(loc: tuple[int | str, ...]) -> str:
    """The command-line option a contract field came from (expiresAt -> --expires-at)."""
    field = str(loc[0]) if loc else "input"
    return "--" + "".join(f"-{c.lower()}" if c.isupper() else c for c in field)


def _describe(error: AppError) -> str:
    details = "; ".join(issue.message for issue in error.errors)
    return f"{error.detail} {details}".strip()


def main(argv: list[str] | None = None) -> Any:
    """The installed ``lhs-map`` entry point."""
    try:
        cli.main(args=argv, prog_name="lhs-map", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lhs-map: aborted", err=True)
        sys.exit(1)
    except NO_ARGS_IS_HELP as exc:  # bare "lhs-map": the help, as asked
        click.echo(exc.format_message(), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        message = " ".join(exc.format_message().split())  # one line, whatever click wrapped
        click.echo(f"lhs-map: {message}", err=True)
        sys.exit(exc.exit_code)
    return None


if __name__ == "__main__":
    main()
