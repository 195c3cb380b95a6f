"""The contract's own rules: versioned (API-Version on every answer, a changelog entry for
every document), one tag per resource, one spelling of enumerated values, a servers entry, and
the rules the server enforces stated where the schema can state them."""

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

import app as package
from app.config import PROJECT_ROOT
from app.http import openapi
from app.main import create_app
from app.reference.parts import Source

COMMITTED = PROJECT_ROOT / "openapi" / "openapi.json"
CHANGELOG = PROJECT_ROOT / "CHANGELOG.md"
METHODS = ("get", "put", "post", "delete", "patch")
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
# Enumerated values that are not ours to spell (FHIR's words) or are part of files already
# written (the map's format marker): CHANGELOG.md lists them.
# nhs-impact: the framework's name as its import kind, crosswalk path and view are spelled
# (CHANGELOG.md, 2.2.0), the kebab-case of a path segment.
# groupBy's values name an organisation's property, spelled as the property is on the wire
# (organisationType), as the national coverage's URL was specified: CHANGELOG.md, 2.3.0.
SPELLING_EXCEPTIONS = {"Organization", "official", "lhs-map", "nhs-impact", "organisationType"}
# Tagged by what they take in (a file), not by the resource they write: CHANGELOG.md, 1.0.0.
TAGGED_BY_FILE = {"activities-import": "imports", "assets-import": "imports"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def enumerated(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every value of every enum and const anywhere in the document, examples aside."""
    if isinstance(node, dict):
        for value in node.get("enum", []):
            yield where, value
        if "const" in node:
            yield where, node["const"]
        for key, child in node.items():
            if key not in ("examples", "example", "default", "enum", "const"):
                yield from enumerated(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from enumerated(child, f"{where}/{index}")


# The version ------------------------------------------------------------------------------


def test_the_contract_version_is_semver_and_one(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", document["info"]["version"])
    assert document["info"]["version"] == package.API_VERSION


async def test_every_answer_carries_the_api_version(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    version = document["info"]["version"]
    missing = str(uuid.uuid4())
    answers = {
        "service info": await client.get("/v1"),
        "liveness": await client.get("/_ping"),
        "HEAD": await client.head("/v1/organisations"),
        "a list": await client.get("/v1/organisations"),
        "not found": await client.get(f"/v1/organisations/{missing}"),
        "no credential": await client.get(
            "/v1/organisations", headers={"Authorization": "Bearer nonsense"}
        ),
        "invalid body": await client.post("/v1/organisations", json={"name": ""}),
        "Host refused by the edge": await client.get("/v1", headers={"Host": "evil.example"}),
        "no such route": await client.get("/v1/nothing-here"),
        "docs page": await client.get("/docs"),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "service info": 200,
        "liveness": 200,
        "HEAD": 200,
        "a list": 200,
        "not found": 404,
        "no credential": 401,
        "invalid body": 422,
        "Host refused by the edge": 400,
        "no such route": 404,
        "docs page": 200,
    }
    versions = {name: answer.headers.get("API-Version") for name, answer in answers.items()}
    assert versions == dict.fromkeys(answers, version)
    assert answers["service info"].json()["version"] == version


# The changelog ----------------------------------------------------------------------------


def test_the_changelog_records_the_committed_document() -> None:
    problem = openapi.changelog_problem(
        COMMITTED.read_text(encoding="utf-8"),
        CHANGELOG.read_text(encoding="utf-8"),
        version=package.API_VERSION,
    )
    assert problem is None, problem


def test_the_check_fails_when_the_document_changes_without_a_changelog_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The committed document is the app's, but the changelog's latest entry records the
    document before the change: the check fails and says what to write."""
    document = tmp_path / "openapi.json"
    document.write_text(COMMITTED.read_text(encoding="utf-8"), encoding="utf-8")
    digest = openapi.sha256(document.read_text(encoding="utf-8"))
    before = openapi.sha256('{"openapi": "3.1.0", "the": "document before the change"}\n')
    stale = tmp_path / "CHANGELOG.md"
    stale.write_text(
        CHANGELOG.read_text(encoding="utf-8").replace(digest, before), encoding="utf-8"
    )
    current = tmp_path / "CHANGELOG-current.md"
    current.write_text(CHANGELOG.read_text(encoding="utf-8"), encoding="utf-8")

    assert openapi.main(["openapi", "check", str(document), str(current)]) == 0
    capsys.readouterr()
    assert openapi.main(["openapi", "check", str(document), str(stale)]) == 1
    said = capsys.readouterr().out
    assert "changed since CHANGELOG.md's latest entry" in said
    assert f"openapi.json sha256: {digest}" in said


def test_the_check_fails_when_the_latest_entry_is_another_version() -> None:
    text = COMMITTED.read_text(encoding="utf-8")
    entry = f"## 0.9.0 — earlier\n\nopenapi.json sha256: {openapi.sha256(text)}\n"
    problem = openapi.changelog_problem(text, entry, version="1.0.0")
    assert problem is not None
    assert "latest entry is 0.9.0" in problem
    assert openapi.changelog_problem(text, "# Changelog\n", version="1.0.0") is not None


# Tags, spelling, servers ------------------------------------------------------------------


def test_one_tag_per_resource(document: dict[str, Any]) -> None:
    declared = [tag["name"] for tag in document["tags"]]
    assert all(tag.get("description") for tag in document["tags"])
    by_path: dict[str, set[str]] = {}
    wrong: list[str] = []
    for path, method, operation in operations(document):
        tags = operation.get("tags", [])
        if len(tags) != 1 or tags[0] not in declared:
            wrong.append(f"{method.upper()} {path}: {tags}")
            continue
        by_path.setdefault(path, set()).update(tags)
        operation_id = operation["operationId"]
        if operation_id in TAGGED_BY_FILE:
            named = tags[0] == TAGGED_BY_FILE[operation_id]
        else:
            named = operation_id.startswith(f"{tags[0]}-")
        if not named:
            wrong.append(f"{operation_id} tagged {tags[0]}")
    assert wrong == []
    assert {path: tags for path, tags in by_path.items() if len(tags) > 1} == {}
    # No two tags name one resource (report and reports did).
    stems = [name.removesuffix("s") for name in declared]
    assert len(stems) == len(set(stems)), declared
    used = {tag for tags in by_path.values() for tag in tags}
    assert used == set(declared)


# FHIR's resources spell their values as FHIR does (resourceType Bundle, code search-type):
# the schemas of the FHIR base are FHIR's vocabulary, not ours.
FHIR_SCHEMAS = "#/components/schemas/Fhir"


def test_enumerated_values_are_snake_case(document: dict[str, Any]) -> None:
    wrong = [
        (where, value)
        for where, value in enumerated(document)
        if isinstance(value, str)
        and not SNAKE.match(value)
        and value not in SPELLING_EXCEPTIONS
        and not where.startswith(FHIR_SCHEMAS)
    ]
    assert wrong == []


def test_every_exception_to_the_spelling_is_in_the_changelog() -> None:
    changelog = CHANGELOG.read_text(encoding="utf-8")
    assert all(f"`{value}`" in changelog or value in changelog for value in SPELLING_EXCEPTIONS)


def test_the_document_names_its_server(document: dict[str, Any]) -> None:
    assert document["servers"] == [{"url": "/", "description": "This service."}]


# Old spellings on input -------------------------------------------------------------------


async def test_the_old_resource_type_spelling_still_filters_the_audit_trail(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/api-keys", json={"name": "spelling", "role": "reader"})
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    answers = [
        await client.get(
            "/v1/audit-events", params={"resourceType": spelling, "resourceId": key_id}
        )
        for spelling in ("api_key", "api-key")
    ]
    assert [answer.status_code for answer in answers] == [200, 200]
    events = [answer.json()["items"] for answer in answers]
    assert events[0] == events[1]
    assert [(e["resourceType"], e["action"]) for e in events[0]] == [("api_key", "create")]
    refused = await client.get("/v1/audit-events", params={"resourceType": "API-KEY"})
    assert refused.status_code == 422


# What the schema states -------------------------------------------------------------------


async def test_an_empty_cursor_is_refused_as_the_document_says(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    for path, _, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "cursor":
                assert parameter["schema"].get("minLength") == 1, path
    answer = await client.get("/v1/organisations", params={"cursor": ""})
    assert answer.status_code == 422, answer.text
    assert [e["pointer"] for e in answer.json()["errors"]] == ["cursor"]


SOURCES = [
    {"table": 3, "rank": 1, "percentage": 80},
    {"recommendation": 2},
    {"box11Step": 4},
    {"section": "Leadership"},
    {"section": "Leadership", "derivation": "modelling_decision", "note": "Why."},
    {"table": 4, "rank": 2, "percentage": None},
    {"table": 3, "rank": 1, "percentage": 80, "recommendation": 2},
    {"recommendation": 2, "box11Step": 1},
    {"recommendation": 2, "table": 3},
    {"derivation": "direct"},
    {},
    {"section": None, "recommendation": 1},
]


@pytest.mark.parametrize("source", SOURCES, ids=[json.dumps(s) for s in SOURCES])
def test_a_model_source_is_one_of_its_shapes_in_the_schema_as_on_the_server(
    document: dict[str, Any], source: dict[str, Any]
) -> None:
    schema = {"$ref": "#/components/schemas/Source"} | {"components": document["components"]}
    stated = Draft202012Validator(schema).is_valid(source)
    try:
        Source.model_validate(source)
        enforced = True
    except ValueError:
        enforced = False
    assert stated == enforced


def test_the_text_rule_is_said_in_words_not_a_long_pattern(document: dict[str, Any]) -> None:
    long = [
        (where, value)
        for where, value in patterns(document)
        if len(value) > 100  # the rule was a 200-character pattern on each text field
    ]
    assert long == []
    description = document["info"]["description"]
    assert "`text` (bodies)" in description
    assert "`printable` (query" in description
    organisation = document["components"]["schemas"]["OrganisationCreate"]
    assert organisation["properties"]["name"]["format"] == "text"


def patterns(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield where, node["pattern"]
        for key, child in node.items():
            yield from patterns(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from patterns(child, f"{where}/{index}")
