"""The published OpenAPI document states every constraint in words validators know: only JSON
Schema 2020-12 and OpenAPI 3.1 keywords in a schema, so a generated client or a gateway refuses
what the service refuses."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator

from app.config import PROJECT_ROOT
from app.main import create_app

JSON_SCHEMA_KEYWORDS = frozenset(
    {
        # core
        "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
        "$comment", "$defs",
        # applicators
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
        "prefixItems", "items", "contains", "properties", "patternProperties",
        "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
        # validation
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
        "required", "dependentRequired",
        # meta-data, format, content
        "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
        "format", "contentEncoding", "contentMediaType", "contentSchema",
        # OpenAPI 3.1 schema object
        "discriminator", "xml", "externalDocs", "example",
    }
)  # fmt: skip
ONE_SCHEMA = (
    "not",
    "if",
    "then",
    "else",
    "items",
    "contains",
    "additionalProperties",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def schemas_in(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The schema and every subschema in it, by the keywords that hold subschemas (so that a
    property named like a keyword, or an example's data, is never taken for one)."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for keyword in ONE_SCHEMA:
        if keyword in schema:
            yield from schemas_in(schema[keyword], f"{where}/{keyword}")
    for keyword in SCHEMA_LISTS:
        for index, sub in enumerate(schema.get(keyword, [])):
            yield from schemas_in(sub, f"{where}/{keyword}/{index}")
    for keyword in SCHEMA_MAPS:
        for name, sub in schema.get(keyword, {}).items():
            yield from schemas_in(sub, f"{where}/{keyword}/{name}")


def document_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema of the document: components, parameters, bodies, responses, headers."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        yield from schemas_in(schema, f"#/components/schemas/{name}")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            here = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield from schemas_in(parameter.get("schema"), f"{here} {parameter['name']}")
            bodies = [("requestBody", operation.get("requestBody", {}))]
            bodies += [(f"response {s}", r) for s, r in operation.get("responses", {}).items()]
            for label, body in bodies:
                for media, content in body.get("content", {}).items():
                    yield from schemas_in(content.get("schema"), f"{here} {label} {media}")
                for header, spec in body.get("headers", {}).items():
                    yield from schemas_in(spec.get("schema"), f"{here} {label} {header}")


def committed() -> dict[str, Any]:
    return dict(json.loads((PROJECT_ROOT / "openapi" / "openapi.json").read_text("utf-8")))


def served() -> dict[str, Any]:
    return create_app().openapi()


DOCUMENTS = [pytest.param(committed, id="committed"), pytest.param(served, id="served")]


@pytest.mark.parametrize("load", DOCUMENTS)
def test_every_schema_uses_only_json_schema_keywords(
    load: Callable[[], dict[str, Any]],
) -> None:
    """Today AssetCreate.maturity and AssetUpdate.maturity carry pydantic's "ge"/"le", which
    no JSON Schema validator or client generator understands."""
    document = load()
    found = list(document_schemas(document))
    assert len(found) > 100  # the walk reaches the schemas
    unknown = [
        f"{where}: {key}"
        for where, schema in found
        for key in schema
        if key not in JSON_SCHEMA_KEYWORDS and not key.startswith("x-")
    ]
    assert unknown == []


def body_validator(document: dict[str, Any], component: str) -> OAS31Validator:
    """A validator for one component, resolving its $refs within the whole document."""
    return OAS31Validator({"$ref": f"#/components/schemas/{component}"} | document)


@pytest.mark.parametrize("load", DOCUMENTS)
@pytest.mark.parametrize("component", ["AssetCreate", "AssetUpdate"])
def test_the_published_schema_refuses_a_maturity_of_98891(
    load: Callable[[], dict[str, Any]], component: str
) -> None:
    """What a generated client or a gateway validating against the document would accept.
    Today it accepts 98891, which the service then refuses with 422."""
    validator = body_validator(load(), component)
    valid = {"area": "data", "name": "Platform", "maturity": 3}
    assert list(validator.iter_errors(valid)) == []
    assert not validator.is_valid(valid | {"maturity": 98891})
    assert not validator.is_valid(valid | {"maturity": -1})
