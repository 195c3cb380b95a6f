"""HTTP for file imports: the body is the file itself, CSV or a JSON array, read as a stream.

One URL scheme for every kind of file (app/transfer/files.py): ``POST
/organisations/{id}/imports/{kind}`` imports one, ``GET /imports/templates/{kind}`` gives its
template. The first paths (``.../assets/import``, ``.../activities/import``) stay as deprecated
aliases: the same handler, plus a ``Deprecation`` header and a ``Link`` to the successor."""

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import SessionDep
from app.http.content import CSV, JSON, body_media_type
from app.http.negotiation import best_match
from app.http.params import OrganisationIdPath
from app.returns import service as returns
from app.returns.schemas import DmaImportRow, NhsImpactImportRow
from app.transfer import service
from app.transfer.files import FILES, FileKind, ImportKind
from app.transfer.formats import RawRow, csv_rows, json_rows
from app.transfer.schemas import (
    ActivityImportRow,
    AssetImportRow,
    ImportResult,
    OrganisationImportRow,
    PlanItemImportRow,
)
from app.transfer.workbook import MEDIA_TYPE as XLSX
from app.transfer.workbook import xlsx_rows
from app.vocabulary import ReturnFramework

router = APIRouter(tags=["imports"])
logger = logging.getLogger("app.transfer")

# The routes whose bodies are files: their own size limit, counted as the stream is read.
LARGE_BODY_PATHS = re.compile(
    r"^/v1/(organisations/[^/]+/((assets|activities)/import|imports/[^/]+)|maps/import)$"
)

# Named by the import bodies' JSON schema; published by app.http.openapi.
BODY_MODELS = (
    AssetImportRow,
    ActivityImportRow,
    PlanItemImportRow,
    OrganisationImportRow,
    DmaImportRow,
    NhsImpactImportRow,
)
# The media type the file bodies are declared under (CSV is what is read as a file).
CSV_BODY = f"{CSV}; charset=utf-8"
# When the first import paths were deprecated (RFC 9745: a Structured Field Date, @seconds).
DEPRECATED_AT = "@1796256000"  # 2026-12-03T00:00:00Z

DryRun = Annotated[
    bool,
    Query(
        alias="dryRun",
        description="Check every row and say what would be created and updated; write nothing.",
    ),
]
KindPath = Annotated[
    ImportKind, Path(description="What the file holds: one row per record of this kind.")
]


def _rows(request: Request, kind: ImportKind) -> AsyncIterator[RawRow]:
    file = FILES[kind]
    media_type = body_media_type(request, (CSV, JSON, XLSX))
    if media_type == CSV:
        return csv_rows(request.stream(), file.columns)
    if media_type == XLSX:
        return xlsx_rows(request.stream(), file.columns, kind.value)
    return json_rows(request.stream())


def _columns(file: FileKind) -> str:
    return "\n".join(f"- `{name}`: {file.described(name)}" for name in file.columns)


def _body(*kinds: ImportKind) -> dict[str, Any]:
    """The request body of an import of these kinds: the file itself."""
    files = {kind: FILES[kind] for kind in kinds}
    if len(files) == 1:
        [file] = files.values()
        columns = _columns(file)
        examples: dict[str, Any] = {"example": file.example_csv()}
        json_example = json.dumps([file.example])
    else:
        columns = "\n\n".join(f"{kind}:\n{_columns(file)}" for kind, file in files.items())
        examples = {
            "examples": {
                kind.value: {"summary": f"{kind} (kind={kind})", "value": file.example_csv()}
                for kind, file in files.items()
            }
        }
        json_example = "; ".join(
            f"{kind}: {json.dumps([file.example])}" for kind, file in files.items()
        )
    models = " or ".join(file.row_model.__name__ for file in files.values())
    return {
        "requestBody": {
            "required": True,
            "content": {
                # Named with its charset, which is the truth (only UTF-8 is read) and lets
                # generators be told how to send this body alone: openapi/client-config.json
                # sends it as bytes, while the CSV answers stay text.
                CSV_BODY: {
                    "schema": {
                        "type": "string",
                        # The file's bytes: generated clients then take a file (a typed
                        # File), not a str they cannot send.
                        "format": "binary",
                        "description": "UTF-8 (a byte-order mark is fine), a header row of "
                        "column names in any order and case, then one row per record. "
                        "Blank cells take the default. Columns:\n" + columns,
                    },
                    **examples,
                },
            },
            # The same rows as a JSON array (application/json, each an object of the row
            # schema) are accepted too, and said so here rather than as a second media type:
            # with an array body beside a file body, openapi-python-client 0.29 generates code
            # that cannot run (isinstance of a parameterised list).
            "description": f"The file itself (text/csv). An Excel workbook ({XLSX}: the first "
            "sheet, or the one named after the kind, as the template names it) and a JSON array "
            f"of {models} objects (application/json) are accepted as well, e.g. {json_example}",
        }
    }


_RESPONSES = problem_responses(400, 404, 409, 413, 415, 422)


async def _import(
    organisation_id: OrganisationIdPath,
    kind: ImportKind,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    dry_run: bool,
) -> ImportResult:
    file = FILES[kind]
    if file.records is None:  # a return to another framework: its own records and rules
        return await returns.run(
            session,
            principal=principal,
            organisation_id=organisation_id,
            framework=ReturnFramework(kind.value),
            rows=_rows(request, kind),
            dry_run=dry_run,
        )
    return await service.run(
        session,
        principal=principal,
        organisation_id=organisation_id,
        kind=file.records(principal),
        rows=_rows(request, kind),
        dry_run=dry_run,
    )


@router.post(
    "/organisations/{organisationId}/imports/{kind}",
    name="imports-create",
    operation_id="imports-create",
    responses=_RESPONSES,
    openapi_extra=_body(*ImportKind),
)
async def import_file(
    organisation_id: OrganisationIdPath,
    kind: KindPath,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    dry_run: DryRun = False,
) -> ImportResult:
    """Import a file of one kind of record, all or none.

    Creates or updates the organisation's records (or, row by row, those of an organisation
    below it, named by organisationId or organisationOdsCode) from a CSV file or a JSON array.
    GET /v1/imports/templates/{kind} gives a sheet to fill in."""
    return await _import(organisation_id, kind, request, principal, session, dry_run)


def _alias_of(kind: ImportKind) -> type[APIRoute]:
    """The route class of a deprecated path: every answer it gives, a refusal included (a
    problem is sent by the exception handlers, past the endpoint), carries ``Deprecation`` and
    a ``Link`` to the successor, with the same query."""

    class Alias(APIRoute):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope)
            successor = request.url_for(
                "imports-create",
                organisationId=str(scope["path_params"]["organisationId"]),
                kind=kind.value,
            ).replace(query=request.url.query)

            async def send_deprecated(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    headers["Deprecation"] = DEPRECATED_AT
                    headers.append("Link", f'<{successor}>; rel="successor-version"')
                await send(message)

            await super().handle(scope, receive, send_deprecated)

    return Alias


def _alias(kind: ImportKind, operation_id: str) -> None:
    async def import_alias(
        organisation_id: OrganisationIdPath,
        request: Request,
        principal: PrincipalDep,
        session: SessionDep,
        dry_run: DryRun = False,
    ) -> ImportResult:
        return await _import(organisation_id, kind, request, principal, session, dry_run)

    router.add_api_route(
        f"/organisations/{{organisationId}}/{kind}/import",
        import_alias,
        methods=["POST"],
        operation_id=operation_id,
        responses=_RESPONSES,
        deprecated=True,
        # The document keeps one line per operation (its summary): the successor is named there.
        summary=f"Import a file of {kind}, all or none. Deprecated: use POST "
        f"/v1/organisations/{{organisationId}}/imports/{kind}, which answers the same.",
        openapi_extra=_body(kind),
        route_class_override=_alias_of(kind),
    )


# The first import paths, kept as aliases until a major version announces their removal.
_alias(ImportKind.ASSETS, "assets-import")
_alias(ImportKind.ACTIVITIES, "activities-import")


TemplateFormat = Annotated[
    Literal["csv", "xlsx"] | None,
    Query(
        alias="format",
        description="csv or xlsx, instead of an Accept header (which is read when this is absent).",
    ),
]


@router.get(
    "/imports/templates/{kind}",
    operation_id="imports-template",
    response_class=Response,
    responses={
        200: {
            "description": "A sheet to fill in. As CSV: the header row of the columns an import "
            "of this kind reads and an example row; each column's allowed values are listed in "
            "the import's request body (POST /v1/organisations/{organisationId}/imports/{kind}). "
            "As an Excel workbook: the same rows, a drop-down of the allowed values on every "
            "enumerated column, and a Notes sheet describing each column. A "
            "Content-Disposition filename says where to save it.",
            "content": {
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problem_responses(406, 422),
    },
)
async def import_template(
    kind: KindPath,
    principal: PrincipalDep,
    template_format: TemplateFormat = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """A sheet to fill in for an import of this kind.

    CSV (the default) or an Excel workbook (?format=xlsx, or Accept naming it), which an import
    takes as it is once filled in. The same rows as JSON are the import's request body
    example."""
    if template_format is None:
        media_type = best_match([XLSX, CSV], accept, what="The template")
    else:
        media_type = XLSX if template_format == "xlsx" else CSV
    file = FILES[kind]
    if media_type == XLSX:
        return Response(
            await to_thread.run_sync(file.template_xlsx, kind.value),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{kind}-import-template.xlsx"'},
        )
    return Response(
        file.template_csv(),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}-import-template.csv"'},
    )
