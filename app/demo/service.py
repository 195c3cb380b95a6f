"""Load the demo system (demo-valley.yaml) as a client would: its organisations through the
organisation service, each naming its parent by ODS code, then the ICS's three sheets through
the file import, one row per member's asset, activity or plan item, each naming its member by
ODS code. Every rule of the API applies to it as to a client's data. One transaction: all of
it or none. Loading twice changes nothing: the second time says it is there already."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter
from pydantic.alias_generators import to_camel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.db import ReadContext, side_transaction
from app.demo import selfassessment as demo_self_assessment
from app.errors import Conflict
from app.models import Asset, Organisation
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationCreate
from app.transfer import service as transfer_service
from app.transfer.files import FILES, ImportKind
from app.transfer.formats import RawRow

DEMO_FILE = Path(__file__).with_name("demo-valley.yaml")


class DemoOrganisation(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)

    key: str
    name: str
    ods_code: str
    organisation_type: str
    parent: str | None = None
    assets: list[dict[str, JsonValue]] = []
    activities: list[dict[str, JsonValue]] = []
    plan_items: list[dict[str, JsonValue]] = []


class DemoSystem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    organisations: list[DemoOrganisation]

    @property
    def root(self) -> DemoOrganisation:
        return self.organisations[0]


@cache
def demo_system() -> DemoSystem:
    return DemoSystem.model_validate(yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class DemoResult:
    loaded: bool  # False: it was there already, and nothing changed
    ics_id: uuid.UUID
    ics_name: str
    organisations: int
    assets: int
    activities: int
    plan_items: int

    def summary(self) -> str:
        if not self.loaded:
            return f"The demo is loaded already ({self.ics_name}, {self.ics_id}); nothing changed."
        return (
            f"Loaded {self.ics_name} ({self.ics_id}): {self.organisations} organisations, "
            f"{self.assets} assets, {self.activities} activities, {self.plan_items} plan items."
        )


async def load_demo(reads: ReadContext, *, principal: Principal) -> DemoResult:
    """Everything is created as the ``principal`` (the command line: the operator)."""
    system = demo_system()
    codes = [organisation.ods_code for organisation in system.organisations]
    async with side_transaction(reads.factory()) as session:
        rows = await session.exec(select(Organisation).where(col(Organisation.ods_code).in_(codes)))
        present = {row.ods_code: row for row in rows}
        if len(present) == len(codes):
            ics = present[system.root.ods_code]
            return DemoResult(False, ics.id, ics.name, len(codes), 0, 0, 0)
        if present:
            raise Conflict(
                "Part of the demo is here already (ODS codes "
                f"{', '.join(sorted(c for c in present if c))}): delete those organisations, "
                "or load the demo into another database."
            )
        codes_by_key = {spec.key: spec.ods_code for spec in system.organisations}
        ids: dict[str, uuid.UUID] = {}
        for spec in system.organisations:
            organisation = await organisations_service.create(
                session,
                principal=principal,
                data=OrganisationCreate.model_validate(
                    {
                        "name": spec.name,
                        "odsCode": spec.ods_code,
                        "organisationType": spec.organisation_type,
                        "parentOdsCode": codes_by_key[spec.parent] if spec.parent else None,
                    }
                ),
            )
            ids[spec.key] = organisation.id
        root = ids[system.root.key]
        assets = await _import(
            session,
            principal,
            root,
            ImportKind.ASSETS,
            [
                fields | {"organisationOdsCode": spec.ods_code}
                for spec in system.organisations
                for fields in spec.assets
            ],
        )
        asset_ids = await _asset_ids(session, ids)
        activities = await _import(
            session,
            principal,
            root,
            ImportKind.ACTIVITIES,
            [
                _with_asset_ids(fields, asset_ids) | {"organisationOdsCode": spec.ods_code}
                for spec in system.organisations
                for fields in spec.activities
            ],
        )
        plan_items = await _import(
            session,
            principal,
            root,
            ImportKind.PLAN_ITEMS,
            [
                fields | {"organisationOdsCode": spec.ods_code}
                for spec in system.organisations
                for fields in spec.plan_items
            ],
        )
    # ---- The demo's self-assessment (questionnaire, submit, moderation): begin ----
    # In a transaction of its own, after the one above commits: the submit's analysis reads
    # the organisation's system from committed data (app/demo/selfassessment.py).
    async with side_transaction(reads.factory()) as session:
        await demo_self_assessment.load(session, principal, ids["pcn"])
    # ---- The demo's self-assessment: end ----
    return DemoResult(True, root, system.root.name, len(ids), assets, activities, plan_items)


async def _import(
    session: AsyncSession,
    principal: Principal,
    root: uuid.UUID,
    kind: ImportKind,
    rows: list[dict[str, Any]],
) -> int:
    """The rows as the ICS's sheet of this kind, through the import (as a JSON array is)."""

    async def sheet() -> AsyncIterator[RawRow]:
        for index, values in enumerate(rows):
            yield RawRow(index, values, json=True)

    result = await transfer_service.run(
        session,
        principal=principal,
        organisation_id=root,
        kind=FILES[kind].records(principal),
        rows=sheet(),
        dry_run=False,
    )
    return result.created


async def _asset_ids(
    session: AsyncSession, ids: dict[str, uuid.UUID]
) -> dict[tuple[str, str], uuid.UUID]:
    """The imported assets by the file's (organisation key, capability key)."""
    keys = {organisation_id: key for key, organisation_id in ids.items()}
    rows = await session.exec(
        select(Asset.id, Asset.organisation_id, Asset.capability_key).where(
            col(Asset.organisation_id).in_(keys)
        )
    )
    return {(keys[org], str(capability)): asset_id for asset_id, org, capability in rows.all()}


def _with_asset_ids(
    fields: dict[str, JsonValue], asset_ids: dict[tuple[str, str], uuid.UUID]
) -> dict[str, Any]:
    """Name the assets an activity uses by id, from the file's (organisation, capability)."""
    uses = _USES.validate_python(fields.get("uses", []))
    body: dict[str, Any] = {name: value for name, value in fields.items() if name != "uses"}
    body["assetIds"] = [str(asset_ids[used]) for used in uses]
    return body


_USES = TypeAdapter(list[tuple[str, str]])
