"""Load the demo system (demo-valley.yaml) through the organisation, asset and activity
services, so that every rule of the API applies to it as to a client's data. One transaction:
all of it or none. Loading twice changes nothing: the second time says it is there already."""

import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter
from pydantic.alias_generators import to_camel
from sqlmodel import col, select

from app.activities import service as activities_service
from app.activities.schemas import ActivityCreate
from app.assets import service as assets_service
from app.assets.schemas import AssetCreate
from app.auth.principal import Principal
from app.db import ReadContext, side_transaction
from app.errors import Conflict
from app.models import Organisation
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationCreate

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

    def summary(self) -> str:
        if not self.loaded:
            return f"The demo is loaded already ({self.ics_name}, {self.ics_id}); nothing changed."
        return (
            f"Loaded {self.ics_name} ({self.ics_id}): {self.organisations} organisations, "
            f"{self.assets} assets, {self.activities} activities."
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
            return DemoResult(False, ics.id, ics.name, len(codes), 0, 0)
        if present:
            raise Conflict(
                "Part of the demo is here already (ODS codes "
                f"{', '.join(sorted(c for c in present if c))}): delete those organisations, "
                "or load the demo into another database."
            )
        ids: dict[str, uuid.UUID] = {}
        asset_ids: dict[tuple[str, str], uuid.UUID] = {}
        assets = activities = 0
        for spec in system.organisations:
            organisation = await organisations_service.create(
                session,
                principal=principal,
                data=OrganisationCreate.model_validate(
                    {
                        "name": spec.name,
                        "odsCode": spec.ods_code,
                        "organisationType": spec.organisation_type,
                        "parentId": str(ids[spec.parent]) if spec.parent else None,
                    }
                ),
            )
            ids[spec.key] = organisation.id
            for fields in spec.assets:
                created = await assets_service.create(
                    session,
                    principal=principal,
                    organisation_id=organisation.id,
                    data=AssetCreate.model_validate(fields),
                )
                asset_ids[(spec.key, str(fields["capabilityKey"]))] = created.id
                assets += 1
            for fields in spec.activities:
                data = ActivityCreate.model_validate(_with_asset_ids(fields, asset_ids))
                await activities_service.create(
                    session, principal=principal, organisation_id=organisation.id, data=data
                )
                activities += 1
    root = system.root
    return DemoResult(True, ids[root.key], root.name, len(ids), assets, activities)


def _with_asset_ids(
    fields: dict[str, JsonValue], asset_ids: dict[tuple[str, str], uuid.UUID]
) -> dict[str, Any]:
    """Name the assets an activity uses by id, from the file's (organisation, capability)."""
    uses = _USES.validate_python(fields.get("uses", []))
    body: dict[str, Any] = {name: value for name, value in fields.items() if name != "uses"}
    body["assetIds"] = [str(asset_ids[used]) for used in uses]
    return body


_USES = TypeAdapter(list[tuple[str, str]])
