"""What a team writes without care: FastAPI, SQLModel, a sync session per request, sync
routes (so FastAPI runs each in its threadpool), ORM objects converted to response models.

Same asset, same page of 50 (with tags) as the service; no authentication."""

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlmodel import Session, SQLModel, col, create_engine, select

from app.models import Asset, AssetTag
from bench.references import database_url

URL = database_url().replace("+asyncpg", "+psycopg2").replace("+aiosqlite", "")
engine = (
    create_engine(URL, connect_args={"check_same_thread": False})
    if URL.startswith("sqlite")
    else create_engine(URL, pool_size=10, max_overflow=10)
)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class AssetRead(SQLModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    area: str
    capability_key: str | None
    name: str
    description: str | None
    maturity: int
    confidence: str
    evidence: list[dict[str, str]]
    owner: str | None
    tags: list[str]
    shared_with_members: bool
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


app = FastAPI()


@app.get("/ping")
def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/assets/{asset_id}")
def get_asset(asset_id: uuid.UUID, session: SessionDep) -> AssetRead:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise HTTPException(404)
    tags = session.exec(
        select(AssetTag.tag).where(AssetTag.asset_id == asset_id).order_by(AssetTag.tag)
    ).all()
    return AssetRead(**asset.model_dump(), tags=list(tags))


@app.get("/organisations/{organisation_id}/assets")
def list_assets(organisation_id: uuid.UUID, session: SessionDep) -> list[AssetRead]:
    assets = session.exec(
        select(Asset)
        .where(Asset.organisation_id == organisation_id)
        .order_by(col(Asset.created_at), col(Asset.id))
        .limit(50)
    ).all()
    tags: dict[uuid.UUID, list[str]] = {a.id: [] for a in assets}
    for asset_id, tag in session.exec(
        select(AssetTag.asset_id, AssetTag.tag).where(col(AssetTag.asset_id).in_(list(tags)))
    ).all():
        tags[asset_id].append(tag)
    return [AssetRead(**a.model_dump(), tags=tags[a.id]) for a in assets]
