"""Query counts, in process: the system analysis must make as many queries for an ICS of 200
members as for one of 20, and an analysis of a member as many as of a standalone organisation."""

import uuid

import httpx
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from bench.dataset import Dataset

LARGE_LIMIT = "1000000/minute"


async def count(database_url: str, data: Dataset) -> dict[str, int]:
    settings = Settings(database_url=database_url, log_level="WARNING", rate_limit=LARGE_LIMIT)
    app = create_app(settings)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    async def queries_for(path: str) -> int:
        await client.get(path)  # warm the model cache and the key cache
        statements.clear()
        response = await client.get(path)
        response.raise_for_status()
        return len(statements)

    def analysis(organisation: uuid.UUID, scope: str = "organisation") -> str:
        return f"/v1/organisations/{organisation}/gap-analysis?scope={scope}"

    async with app.router.lifespan_context(app):
        engine = app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://localhost",
            headers={"Authorization": f"Bearer {data.key}"},
        ) as client:
            counts = {
                "system_small": await queries_for(analysis(data.small_ics, "system")),
                "system_large": await queries_for(analysis(data.ics, "system")),
                "member_small": await queries_for(analysis(data.small_member)),
                "member_large": await queries_for(analysis(data.member)),
                "asset_get": await queries_for(f"/v1/assets/{data.asset}"),
                "asset_page": await queries_for(f"/v1/organisations/{data.member}/assets"),
            }
        event.remove(engine, "before_cursor_execute", record)
    return counts
