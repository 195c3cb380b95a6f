"""The benchmark's data: a fresh schema and a generated set of systems, loaded in bulk.

Rows go straight in through the app's own table metadata (one multi-row INSERT per table),
not through the API: loading 22,000 assets through HTTP would take longer than the benchmark.
Two systems, as in the service's realistic cases:

* a large ICS of ``members`` organisations (200 in a full run), and
* a small ICS of ``small_members`` organisations (20),

each member with ``assets`` assets and ``activities`` activities (100 and 40), plus a
standalone organisation that the create scenario writes into (so that the analyses measured
afterwards see the same data as before).
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import insert

from app.auth import keys_service
from app.auth.principal import OPERATOR
from app.auth.schemas import ApiKeyCreate
from app.config import PROJECT_ROOT, Settings
from app.db import Sessions, make_engine, make_sessions, utcnow
from app.models import Activity, ActivityAsset, Asset, AssetTag, Organisation
from app.reference import gate as reference_gate
from app.reference.service import shipped_models

KEYS = [(c.key, c.area.value) for c in shipped_models()[-1].capabilities]
STATUSES = ("planned", "active", "completed", "stopped")
CONFIDENCE = ("self_assessed", "peer_reviewed", "evidenced")


@dataclass(frozen=True)
class Shape:
    members: int
    small_members: int
    assets: int
    activities: int


FULL = Shape(members=200, small_members=20, assets=100, activities=40)
SMOKE = Shape(members=5, small_members=3, assets=10, activities=4)


@dataclass(frozen=True)
class Dataset:
    """What the scenarios address."""

    key: str  # a global admin's API key
    ics: uuid.UUID  # the large ICS
    member: uuid.UUID  # one of its members
    small_ics: uuid.UUID
    small_member: uuid.UUID
    standalone: uuid.UUID  # where creates go
    asset: uuid.UUID  # one asset of ``member``
    shape: Shape

    def as_json(self) -> dict[str, Any]:
        return {name: str(value) for name, value in vars(self).items() if name != "shape"} | {
            "shape": vars(self.shape)
        }


def migrate_fresh(url: str) -> None:
    """Drop whatever schema the (scratch) database holds and build the current one."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.downgrade(config, "base")
    command.upgrade(config, "head")


class _Clock:
    """Distinct, increasing creation times, so keyset pages have a stable order."""

    def __init__(self) -> None:
        self.now = utcnow() - timedelta(days=1)

    def tick(self) -> Any:
        self.now += timedelta(microseconds=1)
        return self.now


def _organisation(clock: _Clock, name: str, kind: str, parent: uuid.UUID | None) -> dict[str, Any]:
    at = clock.tick()
    return {
        "id": uuid.uuid4(),
        "name": name,
        "organisation_type": kind,
        "parent_id": parent,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


def _assets(clock: _Clock, owner: uuid.UUID, count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        key, area = KEYS[i % len(KEYS)]
        confidence = CONFIDENCE[i % 3]
        at = clock.tick()
        rows.append(
            {
                "id": uuid.uuid4(),
                "organisation_id": owner,
                "area": area,
                "capability_key": key if i % 7 else None,
                "name": f"Asset {i}",
                "description": "A generated asset for the benchmark." if i % 2 else None,
                "maturity": i % 5,
                "confidence": confidence,
                "evidence": (
                    [{"title": "Assurance report", "url": "https://example.nhs.uk/report.pdf"}]
                    if confidence == "evidenced"
                    else []
                ),
                "reviewed_by": "Peer trust" if confidence == "peer_reviewed" else None,
                "reviewed_at": at if confidence == "peer_reviewed" else None,
                "shared_with_members": i % 50 == 0,
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
        )
    return rows


def _activities(clock: _Clock, owner: uuid.UUID, count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        key, area = KEYS[i % len(KEYS)]
        at = clock.tick()
        rows.append(
            {
                "id": uuid.uuid4(),
                "organisation_id": owner,
                "area": area,
                "capability_key": key,
                "title": f"Activity {i}",
                "activity_type": "improvement_project",
                "status": STATUSES[i % 4],
                "goal": "A goal" if i % 3 == 0 else None,
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
        )
    return rows


async def load(url: str, shape: Shape) -> Dataset:
    """Migrate a fresh schema, load the data set and mint the key the load generator sends."""
    await asyncio.to_thread(migrate_fresh, url)
    settings = Settings(database_url=url, log_level="WARNING")
    engine = make_engine(settings)
    sessions = make_sessions(engine, settings)
    clock = _Clock()
    try:
        async with sessions.write() as session:
            await reference_gate.install_shipped(session)
        ics = _organisation(clock, "Benchmark ICS", "ics", None)
        small = _organisation(clock, "Small ICS", "ics", None)
        standalone = _organisation(clock, "Standalone Trust", "acute_trust", None)
        members = [
            _organisation(clock, f"Practice {i}", "gp_practice", ics["id"])
            for i in range(shape.members)
        ]
        small_members = [
            _organisation(clock, f"Trust {i}", "acute_trust", small["id"])
            for i in range(shape.small_members)
        ]
        first_asset: uuid.UUID | None = None
        async with engine.begin() as connection:
            await connection.execute(
                insert(Organisation), [ics, small, standalone, *members, *small_members]
            )
            for member in [*members, *small_members]:
                assets = _assets(clock, member["id"], shape.assets)
                activities = _activities(clock, member["id"], shape.activities)
                first_asset = first_asset or assets[0]["id"]
                await connection.execute(insert(Asset), assets)
                await connection.execute(
                    insert(AssetTag),
                    [{"asset_id": a["id"], "tag": "bench"} for a in assets[::2]],
                )
                await connection.execute(insert(Activity), activities)
                await connection.execute(
                    insert(ActivityAsset),
                    [
                        {"activity_id": act["id"], "asset_id": assets[i % len(assets)]["id"]}
                        for i, act in enumerate(activities)
                    ],
                )
        key = await admin_key(sessions, "benchmark")
    finally:
        await sessions.dispose()
        await engine.dispose()
    assert first_asset is not None
    return Dataset(
        key=key,
        ics=ics["id"],
        member=members[0]["id"],
        small_ics=small["id"],
        small_member=small_members[0]["id"],
        standalone=standalone["id"],
        asset=first_asset,
        shape=shape,
    )


async def admin_key(sessions: Sessions, name: str) -> str:
    """A new global admin's key, as the operator mints one: what every load generator of the
    bench sends."""
    data = ApiKeyCreate.model_validate({"name": name, "role": "admin"})
    async with sessions.write() as session:
        _, key = await keys_service.create(
            session, principal=OPERATOR, data=data, max_lifetime=None
        )
        await session.commit()
    return str(key)
