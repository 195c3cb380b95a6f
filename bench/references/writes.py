"""The write floor: raw ASGI, asyncpg, orjson doing what the service's create, update and
delete of an asset make the database do, and nothing else (PostgreSQL only).

Each write is one transaction with every statement the service's needs: the asset row, its
tags, the audit event (whose insert fires the change feed's triggers: the feed position is
given at commit under the clock's row lock), and the asset's own statement, which fires the
organisation's revision trigger. An update and a delete lock the row and check the version
the caller's If-Match names first (412 when stale). No authentication, no validation beyond
what the statements need: what the database and the runtime allow. Reads (``GET``) are the
read floor's (bench.references.raw).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from bench.references.raw import COLUMNS, PG_TAGS, Floor, _public

ACTOR = "floor"
# The service leaves these out of an audit event's changes (bookkeeping, not the change).
IGNORED = frozenset({"version", "updated_at", "created_at"})
INSERT = (
    "INSERT INTO asset (id, organisation_id, area, capability_key, name, description, maturity, "
    "confidence, evidence, owner, shared_with_members, reviewed_by, reviewed_at, external_id, "
    "created_at, updated_at, version) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $14, 1)"
)
# A response: its status, body and headers.
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]
TAGS = "INSERT INTO asset_tag (asset_id, tag) SELECT $1, unnest($2::text[])"
LOCKED = f"SELECT {COLUMNS}, {PG_TAGS} FROM asset a WHERE a.id = $1 FOR NO KEY UPDATE"  # noqa: S608
AUDIT = (
    "INSERT INTO audit_event (id, occurred_at, actor, actor_kind, request_id, action, "
    "resource_type, resource_id, organisation_id, changes, version) "
    "VALUES ($1, $2, $3, 'api_key', NULL, $4, 'asset', $5, $6, $7, $8)"
)
FIELDS = (
    "id",
    "organisation_id",
    "area",
    "capability_key",
    "name",
    "description",
    "maturity",
    "confidence",
    "evidence",
    "owner",
    "shared_with_members",
    "reviewed_by",
    "reviewed_at",
)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The audit event's changes, as the service writes them (absent reads as None)."""
    out = []
    for field in dict.fromkeys([*before, *after]):
        if field in IGNORED:
            continue
        old, new = _plain(before.get(field)), _plain(after.get(field))
        if old != new:
            out.append({"field": field, "before": old, "after": new})
    return orjson.dumps(out).decode()


def _row(record: Any) -> dict[str, Any]:
    row = dict(record)
    if isinstance(row.get("evidence"), str):
        row["evidence"] = orjson.loads(row["evidence"])
    row["tags"] = sorted(row.get("tags") or [])
    return row


class WriteFloor(Floor):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        if scope["type"] != "http" or method == "GET":
            await super().__call__(scope, receive, send)
            return
        parts = scope["path"].strip("/").split("/")
        headers = dict(scope["headers"])
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, answer = 404, b'{"status":404}'
        extra: list[tuple[bytes, bytes]] = []
        if method == "POST" and len(parts) == 3 and parts[2] == "assets":
            status, answer, extra = await self._create(uuid.UUID(parts[1]), orjson.loads(body))
        elif len(parts) == 2 and parts[0] == "assets":
            version = int(headers.get(b"if-match", b'W/"0"').decode().strip('W/"'))
            if method == "PATCH":
                status, answer, extra = await self._update(
                    uuid.UUID(parts[1]), version, orjson.loads(body)
                )
            elif method == "DELETE":
                status, answer, extra = await self._delete(uuid.UUID(parts[1]), version)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": answer if status != 204 else b""})

    async def _create(self, organisation_id: uuid.UUID, data: dict[str, Any]) -> Answer:
        assert self.pool is not None
        asset_id, now = uuid.uuid4(), datetime.now(UTC)
        tags = sorted({t.strip().lower() for t in data.get("tags", [])})
        row = {
            "id": asset_id,
            "organisation_id": organisation_id,
            "area": data["area"],
            "capability_key": data.get("capabilityKey"),
            "name": data["name"],
            "description": data.get("description"),
            "maturity": data["maturity"],
            "confidence": data["confidence"],
            "evidence": data.get("evidence", []),
            "owner": data.get("owner"),
            "shared_with_members": data.get("sharedWithMembers", False),
            "reviewed_by": data.get("reviewedBy"),
            "reviewed_at": None,
        }
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                INSERT,
                *[orjson.dumps(row[f]).decode() if f == "evidence" else row[f] for f in FIELDS],
                now,
            )
            if tags:
                await connection.execute(TAGS, asset_id, tags)
            changes = _changes({}, row | {"tags": tags})
            await connection.execute(
                AUDIT,
                uuid.uuid4(),
                now,
                ACTOR,
                "create",
                str(asset_id),
                organisation_id,
                changes,
                1,
            )
        public = row | {"tags": tags, "externalId": None, "created_at": now}
        public |= {"updated_at": now, "version": 1}
        body = orjson.dumps(_public(public, sqlite=False), default=str)
        extra = [(b"location", f"/assets/{asset_id}".encode()), (b"etag", b'W/"1"')]
        return 201, body, extra

    async def _update(self, asset_id: uuid.UUID, expected: int, data: dict[str, Any]) -> Answer:
        assert self.pool is not None
        async with self.pool.acquire() as connection, connection.transaction():
            before, refused = await _locked(connection, asset_id, expected)
            if refused is not None:
                return refused
            after = before | {"name": data["name"], "updated_at": datetime.now(UTC)}
            after["version"] = before["version"] + 1
            await connection.execute(
                "UPDATE asset SET name = $2, updated_at = $3, version = $4 WHERE id = $1",
                asset_id,
                after["name"],
                after["updated_at"],
                after["version"],
            )
            await connection.execute(
                AUDIT,
                uuid.uuid4(),
                after["updated_at"],
                ACTOR,
                "update",
                str(asset_id),
                before["organisation_id"],
                _changes(before, after),
                after["version"],
            )
        body = orjson.dumps(_public(after, sqlite=False), default=str)
        return 200, body, [(b"etag", f'W/"{after["version"]}"'.encode())]

    async def _delete(self, asset_id: uuid.UUID, expected: int) -> Answer:
        assert self.pool is not None
        async with self.pool.acquire() as connection, connection.transaction():
            before, refused = await _locked(connection, asset_id, expected)
            if refused is not None:
                return refused
            await connection.execute(
                AUDIT,
                uuid.uuid4(),
                datetime.now(UTC),
                ACTOR,
                "delete",
                str(asset_id),
                before["organisation_id"],
                _changes(before, {}),
                before["version"],
            )
            # Tags and activity links go by ON DELETE CASCADE, as the service's do.
            await connection.execute("DELETE FROM asset WHERE id = $1", asset_id)
        return 204, b"", []


async def _locked(
    connection: Any, asset_id: uuid.UUID, expected: int
) -> tuple[dict[str, Any], Answer | None]:
    """The asset's row, locked as the service locks it, or the answer that refuses the write
    (404 gone, 412 If-Match stale), as the service checks them."""
    found = await connection.fetchrow(LOCKED, asset_id)
    if found is None:
        return {}, (404, b'{"status":404}', [])
    before = _row(found)
    if before["version"] != expected:
        return before, (412, b'{"status":412}', [])
    return before, None


app = WriteFloor()
