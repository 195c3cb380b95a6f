"""The OpenAPI contract: committed, valid, and shaped so that generated clients work."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from app.config import PROJECT_ROOT
from app.main import create_app

COMMITTED = PROJECT_ROOT / "openapi" / "openapi.json"
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM = {"application/problem+json": {"$ref": PROBLEM_REF}}
OUTCOME = {"application/fhir+json": {"$ref": "#/components/schemas/FhirOperationOutcome"}}
# FHIR's own search parameters, spelled as FHIR spells them.
FHIR_PARAMETERS = {"_count", "_cursor"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LOWER_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
# /_status answers 503 with its readiness report (which check failed), not a problem: load
# balancers and operators read the same body on 200 and 503.
READINESS_503 = ("/_status", "get", "503")
# The board report is one resource in two media types, chosen by Accept or ?format=; so are
# the asset and activity lists and the gap analysis, as JSON or CSV for a spreadsheet.
NEGOTIATED = {
    ("/v1/organisations/{organisationId}/report", "get", "200"): [
        "application/pdf",
        "text/csv",
        "text/html",
    ],
    ("/v1/organisations/{organisationId}/assets", "get", "200"): ["application/json", "text/csv"],
    ("/v1/assets", "get", "200"): ["application/json", "text/csv"],
    ("/v1/organisations/{organisationId}/activities", "get", "200"): [
        "application/json",
        "text/csv",
    ],
    ("/v1/organisations/{organisationId}/plan-items", "get", "200"): [
        "application/json",
        "text/csv",
    ],
    ("/v1/self-assessments/{selfAssessmentId}", "get", "200"): ["application/json", "text/csv"],
    ("/v1/organisations/{organisationId}/gap-analysis", "get", "200"): [
        "application/json",
        "text/csv",
    ],
    ("/v1/imports/templates/{kind}", "get", "200"): [
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
    ],
}

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def has_examples(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Examples on the schema, on the component it references, or on every branch of an
    optional body (``anyOf: [{"$ref": ...}, {"type": "null"}]``)."""
    if "example" in schema or "examples" in schema:
        return True
    ref = schema.get("$ref")
    if ref is not None:
        assert ref.startswith("#/components/schemas/"), ref
        return has_examples(document, document["components"]["schemas"][ref.rsplit("/", 1)[1]])
    branches = [b for b in schema.get("anyOf", schema.get("oneOf", [])) if b != {"type": "null"}]
    return bool(branches) and all(has_examples(document, branch) for branch in branches)


def property_names(schema: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every JSON property name declared anywhere inside a schema, with where it is."""
    if isinstance(schema, dict):
        for name in schema.get("properties", {}):
            yield where, name
        for key, value in schema.items():
            if key not in ("examples", "example", "default", "enum", "const"):
                yield from property_names(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from property_names(value, f"{where}[{index}]")


def test_committed_document_matches_the_app(document: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    stale = [
        f"{section} {name}"
        for section, ours, theirs in (
            ("path", document["paths"], committed["paths"]),
            ("schema", document["components"]["schemas"], committed["components"]["schemas"]),
        )
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]
    assert committed == document, f"stale: run `make openapi` and commit; differs at {stale}"


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert re.fullmatch(r"\d+\.\d+\.\d+", document["info"]["version"])


def test_operation_ids_are_unique_and_readable(document: dict[str, Any]) -> None:
    ids: list[str] = []
    for path, method, operation in operations(document):
        assert "operationId" in operation, f"{method.upper()} {path} has no operationId"
        ids.append(operation["operationId"])
    assert ids, "the document declares no operations"
    assert [i for i in ids if not re.fullmatch(r"[a-z0-9-]+", i)] == []
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "organisations-list" in ids


def test_error_responses_are_problems(document: dict[str, Any]) -> None:
    wrong: list[str] = []
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or (path, method, status) == READINESS_503:
                continue
            content = response.get("content", {})
            schemas = {media: body.get("schema") for media, body in content.items()}
            # Under the FHIR base, an error is FHIR's: an OperationOutcome.
            expected = OUTCOME if path.startswith("/v1/fhir/") else PROBLEM
            if schemas != expected:
                wrong.append(f"{method.upper()} {path} {status}: {schemas}")
    assert wrong == []


def test_readiness_503_declares_the_readiness_report(document: dict[str, Any]) -> None:
    path, method, status = READINESS_503
    content = document["paths"][path][method]["responses"][status]["content"]
    assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}


def test_one_content_type_per_response(document: dict[str, Any]) -> None:
    several = {
        (path, method, status): sorted(response["content"])
        for path, method, operation in operations(document)
        for status, response in operation["responses"].items()
        if len(response.get("content", {})) > 1
    }
    assert several == NEGOTIATED


def test_fastapi_default_validation_error_is_not_in_the_contract(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "HTTPValidationError" not in json.dumps(document["paths"])


# Revoking a key needs no If-Match: revocation is one-way, and an admin must never be stopped
# from revoking by a stale version.
NO_PRECONDITION = frozenset({"api-keys-revoke"})


def test_request_bodies_have_examples(document: dict[str, Any]) -> None:
    bodies = 0
    missing: list[str] = []
    for path, method, operation in operations(document):
        if method not in ("post", "patch", "put"):
            continue
        # Even a POST that needs nothing (asking for a signed link) declares its body, empty and
        # optional, so that an unknown field in it is refused as in every other body.
        assert "requestBody" in operation, f"{method.upper()} {path} has no request body"
        for media, body in operation["requestBody"]["content"].items():
            bodies += 1
            on_media = "example" in body or "examples" in body
            if not (on_media or has_examples(document, body["schema"])):
                missing.append(f"{method.upper()} {path} {media}")
    assert bodies > 0
    assert missing == []


def test_every_path_is_versioned_except_health(document: dict[str, Any]) -> None:
    paths = set(document["paths"])
    assert {"/_ping", "/_status", "/v1"} <= paths
    outside = {p for p in paths if p != "/v1" and not p.startswith("/v1/")}
    assert outside == {"/_ping", "/_status"}


def test_json_property_names_are_lower_camel_case(document: dict[str, Any]) -> None:
    names = list(property_names(document["components"]["schemas"], "components.schemas"))
    assert names
    assert [f"{where}: {name}" for where, name in names if not LOWER_CAMEL.match(name)] == []


def test_query_parameters_are_lower_camel_case(document: dict[str, Any]) -> None:
    bad = [
        f"{method.upper()} {path}: {parameter['name']}"
        for path, method, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("query", "path")
        and not LOWER_CAMEL.match(parameter["name"])
        and not (path.startswith("/v1/fhir/") and parameter["name"] in FHIR_PARAMETERS)
    ]
    assert bad == []


def test_response_examples_are_real_engine_output_that_validates(
    document: dict[str, Any],
) -> None:
    from pydantic import BaseModel

    from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
    from app.assessments.schemas import AssessmentComparison, SystemAssessmentComparison
    from app.reference.schemas import Capability, ReferenceModelPublic

    classes: dict[str, type[BaseModel]] = {
        "GapAnalysis": GapAnalysis,
        "SystemGapAnalysis": SystemGapAnalysis,
        "AssessmentComparison": AssessmentComparison,
        "SystemAssessmentComparison": SystemAssessmentComparison,
        "Capability": Capability,
        "ReferenceModelPublic": ReferenceModelPublic,
    }
    for name, model in classes.items():
        (example,) = document["components"]["schemas"][name]["examples"]
        model.model_validate(example)
    gap_analysis = document["components"]["schemas"]["GapAnalysis"]["examples"][0]
    assert gap_analysis["recommendations"][0]["availableInSystem"], "shows spreading"


def test_if_match_is_declared_required_where_the_server_requires_it(
    document: dict[str, Any],
) -> None:
    for path, operations in document["paths"].items():
        for method in ("patch", "delete"):
            if method not in operations:
                continue
            if operations[method]["operationId"] in NO_PRECONDITION:
                continue
            (if_match,) = [p for p in operations[method]["parameters"] if p["name"] == "If-Match"]
            assert if_match["required"] is True, f"{method} {path}"
            assert "428" in operations[method]["responses"], f"{method} {path}"
