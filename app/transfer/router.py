"""HTTP for file imports: the body is the file itself, CSV or a JSON array, read as a stream."""

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import SessionDep
from app.http.content import CSV, JSON, body_media_type
from app.http.params import OrganisationIdPath
from app.transfer import service
from app.transfer.activity_rows import Activities
from app.transfer.columns import ACTIVITY_COLUMNS, ASSET_COLUMNS, Column
from app.transfer.formats import RawRow, csv_rows, json_rows
from app.transfer.kinds import Assets
from app.transfer.schemas import (
    ACTIVITY_EXAMPLE,
    ASSET_EXAMPLE,
    ActivityImportRow,
    AssetImportRow,
    ImportResult,
)

router = APIRouter(tags=["imports"])
logger = logging.getLogger("app.transfer")

# The routes whose bodies are files: their own size limit, counted as the stream is read.
LARGE_BODY_PATHS = re.compile(r"^/v1/(organisations/[^/]+/(assets|activities)/import|maps/import)$")

# Named by the import bodies' JSON schema; published by app.http.openapi.
BODY_MODELS = (AssetImportRow, ActivityImportRow)
# The media type the file bodies are declared under (CSV is what is read as a file).
CSV_BODY = f"{CSV}; charset=utf-8"

DryRun = Annotated[
    bool,
    Query(
        alias="dryRun",
        description="Check every row and say what would be created and updated; write nothing.",
    ),
]


def _rows(request: Request, columns: Mapping[str, Column]) -> AsyncIterator[RawRow]:
    if body_media_type(request, (CSV, JSON)) == CSV:
        return csv_rows(request.stream(), columns)
    return json_rows(request.stream())


def _body(
    row_model: type[BaseModel], columns: Mapping[str, Column], csv_example: str, example: Any
) -> dict[str, Any]:
    described = "\n".join(f"- `{name}`: {column.meaning}" for name, column in columns.items())
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
                        "Blank cells take the default. Columns:\n" + described,
                    },
                    "example": csv_example,
                },
            },
            # The same rows as a JSON array (application/json, each an object of the
            # {row_model.__name__} schema) are accepted too, and said so here rather than as a
            # second media type: with an array body beside a file body, openapi-python-client
            # 0.29 generates code that cannot run (isinstance of a parameterised list).
            "description": "The file itself (text/csv). A JSON array of "
            f"{row_model.__name__} objects (application/json) is accepted as well, e.g. "
            + json.dumps([example]),
        }
    }


_ASSET_CSV = (
    "externalId,area,capabilityKey,name,maturity,confidence,evidence,tags\r\n"
    "DATA-001,data,data-platform,Shared care record,3,evidenced,"
    "Assurance report|https://example.nhs.uk/a.pdf,shared-care-record;analytics\r\n"
)
_ACTIVITY_CSV = (
    "externalId,area,title,activityType,status,startDate,assetExternalIds\r\n"
    "QI-007,improvement,Reducing falls,improvement_project,active,2026-04-01,DATA-001\r\n"
)
_RESPONSES = problem_responses(400, 404, 409, 413, 415, 422)


@router.post(
    "/organisations/{organisationId}/assets/import",
    operation_id="assets-import",
    responses=_RESPONSES,
    openapi_extra=_body(AssetImportRow, ASSET_COLUMNS, _ASSET_CSV, ASSET_EXAMPLE),
)
async def import_assets(
    organisation_id: OrganisationIdPath,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    dry_run: DryRun = False,
) -> ImportResult:
    """Create or update an organisation's assets from a CSV file or a JSON array, all or none."""
    return await service.run(
        session,
        principal=principal,
        organisation_id=organisation_id,
        kind=Assets(principal),
        rows=_rows(request, ASSET_COLUMNS),
        dry_run=dry_run,
    )


@router.post(
    "/organisations/{organisationId}/activities/import",
    operation_id="activities-import",
    responses=_RESPONSES,
    openapi_extra=_body(ActivityImportRow, ACTIVITY_COLUMNS, _ACTIVITY_CSV, ACTIVITY_EXAMPLE),
)
async def import_activities(
    organisation_id: OrganisationIdPath,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    dry_run: DryRun = False,
) -> ImportResult:
    """Create or update an organisation's activities from a CSV file or a JSON array, all or
    none."""
    return await service.run(
        session,
        principal=principal,
        organisation_id=organisation_id,
        kind=Activities(principal),
        rows=_rows(request, ACTIVITY_COLUMNS),
        dry_run=dry_run,
    )
