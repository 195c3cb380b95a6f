"""Every answer written on a hand path (the registry, app.http.answers) is byte for byte what
its response model serialises to, over generated rows (Hypothesis, derandomised, no
database); and no route answers JSON on a hand path without being in the registry."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg.pgproto.pgproto as pgproto
import pytest
from fastapi import Response
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.analysis import engine
from app.analysis.answers import Remembered
from app.analysis.profile import Claim, PlannedItem, Profile
from app.analysis.schemas import OrganisationRef
from app.analysis.system import analyse_system
from app.config import Settings
from app.http.answers import REGISTRY, AnalysisAnswer, HandAnswer
from app.http.links import PageRows
from app.main import create_app
from app.reference.service import shipped_models
from app.vocabulary import ActivityStatus, Area, CapabilityKind, Confidence, Rag, Travel

PROPERTIES = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MODEL = shipped_models()[-1]

# Text as a caller may store it, and more: quotes, backslashes, non-ASCII and astral
# characters, JSON-looking text (a splice must not be fooled by a name that reads like a key),
# line and paragraph separators. Surrogates cannot be UTF-8 at all.
_TRICKY = st.sampled_from(
    ['"generatedAt":"0001-01-01T00:00:00Z"', '\\"', "é", "🩺", "\u2028", "\u00a0", "</script>"]
)
texts = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=40) | _TRICKY
control_texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10)
# Aware UTC times, with and without microseconds, from year 1 to 9999.
times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.datetimes(timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=0))
# UUIDs as the drivers give them: Python's, and asyncpg's own subclass.
uuids = st.uuids() | st.uuids().map(lambda u: pgproto.UUID(str(u)))


def _evidence_text(links: list[dict[str, str]], ascii_only: bool) -> str:
    return json.dumps(links, ensure_ascii=ascii_only)


evidence = st.builds(
    _evidence_text,
    st.lists(
        st.fixed_dictionaries({"title": texts, "url": texts}, optional={"note": texts}),
        max_size=4,
    ),
    st.booleans(),
)
asset_rows = st.fixed_dictionaries(
    {
        "id": uuids,
        "created_at": times,
        "updated_at": times,
        "version": st.integers(1, 2**31 - 1),
        "organisation_id": uuids,
        "area": st.sampled_from([a.value for a in Area]),
        "capability_key": st.none() | texts,
        "name": texts,
        "description": st.none() | texts,
        "maturity": st.integers(0, 4),
        "confidence": st.sampled_from([c.value for c in Confidence]),
        "evidence": evidence,
        "owner": st.none() | texts,
        "shared_with_members": st.booleans(),
        "reviewed_by": st.none() | texts,
        "reviewed_at": st.none() | times,
        "external_id": st.none() | texts,
        # PostgreSQL gives an array, SQLite a decoded JSON list; none, one or very many.
        "tags": st.none() | st.lists(texts, max_size=3) | st.lists(texts, min_size=30),
    }
)
urls = st.builds(lambda tail: f"http://127.0.0.1:8000/v1/organisations/x/assets{tail}", texts)
pages = st.builds(
    PageRows, st.lists(asset_rows, max_size=6), urls, st.none() | urls.map(lambda u: u + "?c")
)


@st.composite
def profiles(draw: st.DrawFn, organisation: OrganisationRef | None = None) -> Profile:
    """An organisation's records as the engine reads them: claims on the model's capabilities
    with any maturity, confidence and name."""
    organisation = organisation or draw(st.builds(OrganisationRef, id=st.uuids(), name=texts))
    keys = [c.key for c in MODEL.capabilities]
    claims = draw(
        st.lists(
            st.builds(
                Claim,
                capability_key=st.sampled_from(keys),
                maturity=st.integers(0, 4),
                confidence=st.none() | st.sampled_from(list(Confidence)),
                kind=st.sampled_from(list(CapabilityKind)),
                organisation_id=st.just(organisation.id) | st.uuids(),
                id=st.uuids(),
                name=texts,
                inherited=st.booleans(),
                evidence_links=st.integers(0, 3),
                reviewed=st.booleans(),
                has_outcome=st.booleans(),
            ),
            max_size=12,
        )
    )
    # Plan items on the model's capabilities (often a few shareable ones, so that members'
    # effort is duplicated) or on one it lacks (unmapped), due any day around the analysis's,
    # with text as a caller may write it.
    shareable = [c.key for c in MODEL.capabilities if c.travels == Travel.SHAREABLE][:2]
    days = st.dates(min_value=date(2026, 11, 1), max_value=date(2027, 1, 31))
    items = draw(
        st.lists(
            st.builds(
                PlannedItem,
                id=st.uuids(),
                capability_key=st.sampled_from(shareable) | st.sampled_from(keys) | texts,
                title=texts,
                status=st.sampled_from(list(ActivityStatus)),
                rag=st.sampled_from(list(Rag)),
                owner=st.none() | texts,
                due_date=st.none() | days,
            ),
            max_size=6,
        )
    )
    return Profile(
        organisation=organisation,
        claims=tuple(claims),
        plan_items=tuple(items),
        next_review_due=draw(st.none() | days),
    )


@st.composite
def analyses(draw: st.DrawFn) -> AnalysisAnswer:
    """A member's analysis (with peers) or a system's roll-up, remembered, answered later."""
    computed_at = draw(times)
    today = draw(st.dates(min_value=date(2026, 11, 1), max_value=date(2027, 1, 31)))
    if draw(st.booleans()):
        peers = draw(
            st.lists(
                st.tuples(
                    st.builds(OrganisationRef, id=st.uuids(), name=texts),
                    st.frozensets(st.sampled_from([c.key for c in MODEL.capabilities])),
                ),
                max_size=4,
            )
        )
        result: Any = engine.analyse(
            draw(profiles()), MODEL, generated_at=computed_at, peers=peers, today=today
        )
    else:
        root = draw(st.builds(OrganisationRef, id=st.uuids(), name=texts))
        members = draw(st.lists(profiles(), min_size=1, max_size=4))
        result = analyse_system(root, members, MODEL, generated_at=computed_at, today=today)
    return AnalysisAnswer(Remembered(result), draw(times))


# One strategy per registry entry: an entry without one fails below, it cannot skip the test.
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "assets-list": pages,
    "gap-analysis-get": analyses(),
}


def test_every_registered_hand_path_has_generated_data() -> None:
    assert {entry.operation_id for entry in REGISTRY} == set(STRATEGIES)


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda entry: entry.operation_id)
@PROPERTIES
@given(data=st.data())
def test_a_hand_path_writes_the_models_bytes(entry: HandAnswer[Any, Any], data: Any) -> None:
    value = data.draw(STRATEGIES[entry.operation_id])
    adapter: TypeAdapter[Any] = TypeAdapter(entry.response_model)
    assert entry.write(value) == adapter.dump_json(entry.model(value), by_alias=True)


@PROPERTIES
@given(page=pages, name=control_texts)
def test_control_characters_are_escaped_as_the_model_escapes_them(
    page: PageRows, name: str
) -> None:
    """The service refuses control characters in text, but a row written before that rule (or
    behind the service's back) must still be answered as its model would answer it."""
    (entry,) = [e for e in REGISTRY if e.operation_id == "assets-list"]
    rows = [{**row, "name": name} for row in page.rows]
    page = PageRows(rows, page.self_url, page.next_url)
    adapter: TypeAdapter[Any] = TypeAdapter(entry.response_model)
    assert entry.write(page) == adapter.dump_json(entry.model(page), by_alias=True)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router, resolved when served
            yield from _routes(route.original_router.routes)


# Routes that return a Response of their own, but write it with the model's own serialisation:
# only the media type is chosen per request (application/json or application/fhir+json).
MODEL_WRITTEN = {
    "organisations-fhir",
    "fhir-metadata",
    "fhir-organization-read",
    "fhir-organization-search",
}


def _is_response(annotation: object) -> bool:
    # Only a Response: a route that may return its model or a Response (CSV, FHIR) answers
    # JSON through its model.
    return isinstance(annotation, type) and issubclass(annotation, Response)


def test_no_route_answers_json_on_an_unregistered_hand_path() -> None:
    """A route that declares a JSON response model yet returns a Response of its own writes
    its JSON itself: it must be registered, with the model it declares."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    by_hand = {
        str(route.operation_id): route.response_model
        for route in _routes(app.routes)
        if route.response_model is not None
        and _is_response(route.endpoint.__annotations__.get("return"))
        and route.operation_id not in MODEL_WRITTEN
    }
    assert by_hand == {entry.operation_id: entry.response_model for entry in REGISTRY}
