"""Every parser of a caller's bytes, fed generated and mutated documents (Hypothesis,
derandomised, no database): each returns what it parsed or raises one of our errors, which the
service answers as a problem; never a RecursionError, a MemoryError or a bare ValueError. The
same documents through HTTP are in tests/test_input_bounds.py."""

import asyncio
import base64
import json
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.requests import Request

from app import json_input
from app.auth.jwks import Jwks, JwksUnavailable
from app.auth.tokens import TokenVerifier
from app.config import JwtIssuer, Settings
from app.errors import AppError, NestedTooDeep
from app.http.content import check_body
from app.http.idempotency import fingerprint
from app.json_input import MAX_DEPTH, DepthGauge
from app.ods import records as ods_records
from app.pagination import decode_cursor, encode_cursor
from app.transfer.columns import ASSET_COLUMNS
from app.transfer.formats import RawRow, csv_rows, json_rows
from app.transfer.map_schemas import MapDocument
from app.transfer.schemas import ACTIVITY_EXAMPLE, ASSET_EXAMPLE
from tests.test_auth_tokens import ISSUER, claims, jwks, sign
from tests.test_import import EXCEL_SHEET

PROPERTIES = settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ODS_FIXTURE = Path(__file__).parent / "fixtures" / "ods-ord-records.json"

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab"\\[]{}:,\n é\u2028'), max_size=12)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=40,
)
# Openings that nest, with what closes them (and some that only look as if they nest).
_NESTS = [(b"[", b"]"), (b'{"a":', b"}"), (b'[{"b":', b"}]"), (b'"[', b""), (b'\\"{', b"")]
_PIECES = [b'"', b"\\", b"[", b"]", b"{", b"}", b",", b":", b"\xef\xbb\xbf", b"\x00", b"\r\n"]


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[bytes]) -> bytes:
    """A document with a few edits: bytes inserted, deleted or replaced, a cut, or a run of
    openings up to 100,000 long (deeper than the bound, or just at it)."""
    data = bytearray(draw(documents))
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(st.sampled_from(["insert", "delete", "replace", "cut", "deepen", "nest"]))
        at = draw(st.integers(0, len(data)))
        if edit == "nest":  # where a value may start, so that a parser goes down into it
            starts = [0] + [i + 1 for i, byte in enumerate(data) if byte in b"[:,"]
            at, edit = draw(st.sampled_from(starts)), "deepen"
        if edit == "insert":
            data[at:at] = draw(st.sampled_from(_PIECES) | st.binary(min_size=1, max_size=6))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif edit == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif edit == "cut":
            del data[at:]
        elif edit == "deepen":
            times = draw(st.sampled_from([MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 2_000, 100_000]))
            opener, closer = draw(st.sampled_from(_NESTS))
            closed = draw(st.booleans())
            data[at:at] = opener * times + b"1" + (closer * times if closed else b"")
    return bytes(data)


def documents(*examples: Any) -> st.SearchStrategy[bytes]:
    """Generated JSON, or one of the examples, as UTF-8 bytes, then perhaps mutated."""
    whole = st.sampled_from([json.dumps(example) for example in examples]) | json_values.map(
        json.dumps
    )
    return mutated(whole.map(str.encode))


def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return chunks()


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def outcome(parse: Callable[[], Any], *domain_errors: type[Exception]) -> None:
    """The parse returns, or fails with one of our errors; anything else fails the test."""
    try:
        parse()
    except AppError:
        pass
    except domain_errors:
        pass


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


# --- the bound itself -------------------------------------------------------------------------


@PROPERTIES
@given(
    value=json_values,
    wrap=st.integers(0, MAX_DEPTH + 3),
    chunk=st.integers(1, 70),
    indent=st.sampled_from([None, 1]),
)
@pytest.mark.slow
def test_the_gauge_counts_the_depth_a_parser_finds(
    value: Any, wrap: int, chunk: int, indent: int | None
) -> None:
    """Whatever the chunks (a byte at a time, an escape cut in two), the gauge refuses exactly
    the documents deeper than the bound, and strings never count."""
    document = [value]
    for _ in range(wrap):
        document = [document]
    text = json.dumps(document, indent=indent).encode()
    gauge = DepthGauge()
    refused = False
    try:
        for start in range(0, len(text), chunk):
            gauge.feed(text[start : start + chunk])
    except NestedTooDeep:
        refused = True
    assert refused == (depth_of(document) > MAX_DEPTH)


@PROPERTIES
@given(data=documents({"a": [1, {"b": "[[["}]}))
def test_loads_returns_json_or_refuses(data: bytes) -> None:
    def parse() -> None:
        try:
            decoded = json_input.loads(data, max_bytes=len(data) + 1)
        except ValueError:  # not JSON: each caller answers that as its own problem
            return
        assert depth_of(decoded) <= MAX_DEPTH

    outcome(parse)


def test_400_kb_of_brackets_is_refused_before_the_import_parser_builds_anything() -> None:
    """The import stream is refused at its first chunk: ijson is never handed a byte of it, the
    rest of the body is never read, and hardly any memory is used."""
    body = b"[" * 400_000
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for start in range(0, len(body), 65_536):
            pulled += 1
            yield body[start : start + 65_536]

    async def read_all() -> list[RawRow]:
        return [row async for row in json_rows(chunks())]

    tracemalloc.start()
    try:
        with pytest.raises(NestedTooDeep):
            run(read_all())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pulled == 1
    assert peak < 2 * 1_048_576, f"{peak} bytes at the peak"


# --- each parser --------------------------------------------------------------------------------


@PROPERTIES
@given(
    data=documents([ASSET_EXAMPLE, ACTIVITY_EXAMPLE], [ASSET_EXAMPLE]), chunk=st.integers(1, 4096)
)
def test_the_json_import_reads_rows_or_refuses(data: bytes, chunk: int) -> None:
    async def read_all() -> None:
        async for row in json_rows(chunked(data, chunk)):
            assert isinstance(row.values, dict)
            assert depth_of(row.values) < MAX_DEPTH

    outcome(lambda: run(read_all()))


_cells = st.text(alphabet=st.sampled_from("ab;|,\"\r\n\t\\='é"), max_size=10)
_sheets = st.lists(st.lists(_cells, max_size=6), max_size=5).map(
    lambda rows: "\r\n".join(",".join(row) for row in rows)
)


@PROPERTIES
@given(
    data=mutated(
        (
            st.just(EXCEL_SHEET)
            | _sheets.map(lambda rows: "name,area,maturity,evidence,tags\r\n" + rows)
        ).map(str.encode)
    ),
    chunk=st.integers(1, 4096),
)
def test_the_csv_import_reads_rows_or_refuses(data: bytes, chunk: int) -> None:
    async def read_all() -> None:
        async for row in csv_rows(chunked(data, chunk), ASSET_COLUMNS):
            assert all(len(issue.message) < 1_000 for issue in row.issues)

    outcome(lambda: run(read_all()))


def _json_request(body: bytes, content_type: str) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/maps/import",
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive)


_MAP = {
    "format": "lhs-map",
    "formatVersion": 1,
    "exportedAt": "2026-01-01T00:00:00Z",
    "rootId": str(uuid.UUID(int=1)),
    "organisations": [],
    "assets": [],
    "activities": [],
    "assessments": [],
    "referenceModels": [{"document": {"areas": [{"capabilities": [{"key": "a"}]}]}}],
}


@PROPERTIES
@given(data=documents(_MAP, {"name": "A Trust", "organisationType": "trust"}))
def test_a_json_body_is_checked_before_it_is_parsed(data: bytes) -> None:
    """As a route reads a body: check_body, then FastAPI's json.loads (whose errors are its 400),
    then the model (whose errors are a 422), as the map import does."""

    def parse() -> None:
        run(check_body(_json_request(data, "application/json")))
        try:
            decoded = json.loads(data)
        except ValueError:
            return  # FastAPI: 400 "not valid JSON"
        assert depth_of(decoded) <= MAX_DEPTH
        try:
            MapDocument.model_validate(decoded)
        except ValidationError:
            return  # 422

    outcome(parse)


@PROPERTIES
@given(data=documents(json.loads(ODS_FIXTURE.read_text())))
def test_an_ods_file_is_read_or_refused(
    data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("ods") / "records.json"
    path.write_bytes(data)
    outcome(lambda: ods_records.parse(ods_records.read_file(path, max_bytes=1_048_576)))


@PROPERTIES
@given(data=documents(jwks()), kid=st.sampled_from([None, "rsa-1", "ec-1"]))
@pytest.mark.slow
def test_a_jwks_document_is_read_or_refused(
    data: bytes, kid: str | None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_bytes(data)
    keys = Jwks(JwtIssuer(issuer=ISSUER, jwks_path=path), algorithms=["RS256", "ES256"], ttl=60)
    outcome(lambda: run(keys.key_for(kid, "RS256")), JwksUnavailable)


_SIGNATURE = sign(claims()).rsplit(".", 1)[1]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@PROPERTIES
@given(
    header=documents({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
    payload=documents(claims(iat=1, nbf=1, exp=2)),
)
def test_a_bearer_token_is_refused_as_unauthenticated(
    header: bytes, payload: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tokens with a caller's own header and payload (and the signature of another token):
    every one is a 401, never anything else."""
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(jwks()))
    verifier = TokenVerifier(Settings(jwt_issuers=[JwtIssuer(issuer=ISSUER, jwks_path=path)]))
    token = f"{_b64(header)}.{_b64(payload)}.{_SIGNATURE}"

    async def no_ods(code: str) -> uuid.UUID | None:
        return None

    with pytest.raises(AppError) as refused:
        run(verifier.verify(token, no_ods))
    assert refused.value.status == 401


@PROPERTIES
@given(data=documents([datetime(2026, 1, 1, tzinfo=UTC).isoformat(), str(uuid.UUID(int=7))]))
def test_a_cursor_is_read_or_refused(data: bytes) -> None:
    outcome(lambda: decode_cursor(_b64(data)))
    assert decode_cursor(encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), uuid.UUID(int=7)))


@PROPERTIES
@given(data=documents({"name": "A Trust", "organisationType": "trust"}))
def test_an_idempotency_fingerprint_is_always_made(data: bytes) -> None:
    assert len(fingerprint(data, max_bytes=1_048_576)) == 64
