"""The floor: raw ASGI, the database driver, orjson. No framework, no ORM, no validation.

It serves the same asset and the same page of 50 as the service (each asset with its tags, in
one query), in the same camelCase JSON, and checks nothing: what the database and the runtime
allow. PostgreSQL through an asyncpg pool; SQLite through the standard library's sqlite3 (a
point read on a local file is faster inline than through a thread).
"""

import sqlite3
import uuid
from typing import Any

import asyncpg
import orjson
from starlette.types import Receive, Scope, Send

from bench.references import database_url

COLUMNS = (
    "id, organisation_id, area, capability_key, name, description, maturity, confidence, "
    "evidence, owner, shared_with_members, reviewed_by, reviewed_at, created_at, updated_at, "
    "version"
)
PG_TAGS = "ARRAY(SELECT t.tag FROM asset_tag t WHERE t.asset_id = a.id ORDER BY t.tag) AS tags"
SQLITE_TAGS = (
    "(SELECT json_group_array(tag) FROM "
    "(SELECT t.tag FROM asset_tag t WHERE t.asset_id = a.id ORDER BY t.tag)) AS tags"
)
CAMEL = {
    "organisation_id": "organisationId",
    "capability_key": "capabilityKey",
    "shared_with_members": "sharedWithMembers",
    "reviewed_by": "reviewedBy",
    "reviewed_at": "reviewedAt",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
}
PAGE = 50


def _public(row: Any, sqlite: bool) -> dict[str, Any]:
    item = {CAMEL.get(key, key): row[key] for key in row.keys()}  # noqa: SIM118 - Record/Row
    if isinstance(item["evidence"], str):
        item["evidence"] = orjson.loads(item["evidence"])
    if sqlite:
        item["tags"] = orjson.loads(item["tags"])
        item["sharedWithMembers"] = bool(item["sharedWithMembers"])
        item["id"] = str(uuid.UUID(item["id"]))
        item["organisationId"] = str(uuid.UUID(item["organisationId"]))
    return item


class Floor:
    def __init__(self) -> None:
        url = database_url()
        self.sqlite = url.startswith("sqlite")
        self.dsn = url.split("///", 1)[1] if self.sqlite else url.replace("+asyncpg", "")
        self.pool: asyncpg.Pool | None = None
        self.db: sqlite3.Connection | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        parts = path.strip("/").split("/")
        try:
            if len(parts) == 2 and parts[0] == "assets":
                body = await self._one(uuid.UUID(parts[1]))
            elif len(parts) == 3 and parts[0] == "organisations" and parts[2] == "assets":
                body = await self._page(uuid.UUID(parts[1]))
            elif path == "/ping":
                body = b'{"status":"ok"}'
            else:
                body = None
        except ValueError:
            body = None
        status = 200 if body is not None else 404
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body or b'{"status":404}'})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.sqlite:
                    self.db = sqlite3.connect(self.dsn, check_same_thread=False)
                    self.db.row_factory = sqlite3.Row
                else:
                    self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                if self.db is not None:
                    self.db.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _rows(self, sql: str, argument: uuid.UUID) -> list[Any]:
        if self.db is not None:
            return self.db.execute(sql.replace("$1", "?"), (argument.hex,)).fetchall()
        assert self.pool is not None
        return list(await self.pool.fetch(sql, argument))

    async def _one(self, asset_id: uuid.UUID) -> bytes | None:
        tags = SQLITE_TAGS if self.sqlite else PG_TAGS
        rows = await self._rows(f"SELECT {COLUMNS}, {tags} FROM asset a WHERE a.id = $1", asset_id)  # noqa: S608
        return orjson.dumps(_public(rows[0], self.sqlite), default=str) if rows else None

    async def _page(self, organisation_id: uuid.UUID) -> bytes:
        tags = SQLITE_TAGS if self.sqlite else PG_TAGS
        rows = await self._rows(
            f"SELECT {COLUMNS}, {tags} FROM asset a WHERE a.organisation_id = $1 "  # noqa: S608
            f"ORDER BY a.created_at, a.id LIMIT {PAGE + 1}",
            organisation_id,
        )
        items = [_public(row, self.sqlite) for row in rows[:PAGE]]
        more = len(rows) > PAGE
        links = {"self": f"/organisations/{organisation_id}/assets", "next": None}
        if more:
            links["next"] = f"/organisations/{organisation_id}/assets?cursor={items[-1]['id']}"
        return orjson.dumps({"items": items, "links": links}, default=str)


app = Floor()
