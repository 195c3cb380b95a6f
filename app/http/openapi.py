"""The OpenAPI document: what FastAPI generates, plus what the server enforces and FastAPI
cannot say (If-Match required, merge-patch bodies, optional bodies, the problem schemas).

``python -m app.http.openapi write|check PATH [CHANGELOG]`` writes or checks the committed copy;
the check also holds the changelog's latest entry to the committed document (its version and
sha256), so the contract cannot change without a changelog entry saying how.
"""

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.analysis.examples import examples
from app.api import Problem, ProblemFieldIssue, problem_responses
from app.fhir.outcome import in_base, outcome_responses
from app.http.content import JSON, MERGE_PATCH
from app.http.preconditions import IF_MATCH_PATTERN


def _require_if_match(operation: dict[str, Any]) -> None:
    """Say what the server enforces: If-Match is required (428 without) and is a list of ETags.
    It is optional in the signature only so that its absence is a 428, not a 422."""
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "If-Match":
            parameter["required"] = True
            parameter["schema"] = {
                "type": "string",
                "pattern": IF_MATCH_PATTERN,
                "examples": ['W/"1"'],
            }


def _bodies(method: str, operation: dict[str, Any]) -> None:
    body = operation.get("requestBody")
    if body is None:
        return
    content = body.get("content", {})
    if method == "patch" and JSON in content:
        # A PATCH body is a JSON merge patch (RFC 7396): absent keeps, null clears. It is
        # announced under that one media type; application/json is read the same way, and
        # said so. Two media types with one schema make generated clients worse (an optional
        # body, and code that does not import), so the second is not listed.
        content[MERGE_PATCH] = content.pop(JSON)
        body["description"] = (
            "A JSON merge patch (RFC 7396): absent fields are kept, null clears. Also "
            "accepted as application/json."
        )
    if not body.get("required", False):
        body["required"] = False  # said explicitly, so generated clients make it optional
        for media in content.values():
            options = media.get("schema", {}).get("anyOf", [])
            refs = [option for option in options if option.get("type") != "null"]
            if len(options) == 2 and len(refs) == 1:
                media["schema"] = refs[0]


# FHIR clients read a server's CapabilityStatement before they have a credential.
PUBLIC_OPERATIONS = frozenset({"service-info", "fhir-metadata"})
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (lhs_...) or a signed JWT from a configured issuer: "
    "'Authorization: Bearer <credential>'. See the README's Security section.",
}


def _secure(schema: dict[str, Any]) -> None:
    """Every /v1 operation but the service description needs a bearer credential, and may
    answer 401 (none or a bad one), 403 (a role too weak) and 429 (over the rate limit)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = (
        SECURITY_SCHEME
    )
    problems = problem_responses(401, 403, 429)
    outcomes = outcome_responses(401, 403, 429)
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1"):
            continue
        refusals = outcomes if in_base(path) else problems
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if operation.get("operationId") in PUBLIC_OPERATIONS:
                if in_base(path):  # no credential needed, but still rate-limited
                    responses.setdefault("429", outcomes[429])
                continue
            operation["security"] = [{"bearer": []}]
            for status, response in refusals.items():
                responses.setdefault(str(status), response)


def _parameters(operation: dict[str, Any]) -> None:
    """A query or header parameter is sent or not; it cannot be null. FastAPI writes an
    optional one as ``anyOf: [X, null]``, which generated clients turn into ``X | None | Unset``:
    say ``X`` (the parameter is still optional: ``required`` is false)."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        options = schema.get("anyOf", [])
        kept = [option for option in options if option.get("type") != "null"]
        if len(options) == 2 and len(kept) == 1 and not parameter.get("required", False):
            rest = {key: value for key, value in schema.items() if key != "anyOf"}
            if rest.get("default", "") is None:
                del rest["default"]
            parameter["schema"] = rest | kept[0]


def install(app: FastAPI, *, extra_models: Sequence[type[BaseModel]] = ()) -> None:
    """Also publishes ``extra_models``: schemas that request bodies read by the route itself
    (a file import) name but that FastAPI never sees."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method in ("patch", "delete"):
                    _require_if_match(operation)
                _bodies(method, operation)
                _parameters(operation)
                # The route's one-line docstring is its summary, not a long description.
                description = operation.pop("description", None)
                if description:
                    operation["summary"] = description.strip().splitlines()[0]
        _secure(schema)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, example in examples().items():
            components[name]["examples"] = [example]
        for model in (Problem, ProblemFieldIssue):
            model_schema = model.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}", mode="serialization"
            )
            model_schema.pop("$defs", None)
            components[model.__name__] = model_schema
        for extra in extra_models:
            # Their nested schemas ($defs) are components already: the create bodies use them.
            model_schema = extra.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}", mode="validation"
            )
            model_schema.pop("$defs", None)
            components[extra.__name__] = model_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def served() -> dict[str, Any]:
    from app.main import create_app

    return create_app().openapi()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_ENTRY = re.compile(r"^## \[?(?P<version>[^\s\]]+)", re.MULTILINE)
_SHA = re.compile(r"openapi\.json sha256: (?P<hex>[0-9a-f]{64})\b")


def changelog_problem(document_text: str, changelog_text: str, *, version: str) -> str | None:
    """Why the changelog's latest entry (its first ``## <version>`` section) does not record
    this document, or None when it does: the same version and the document's sha256."""
    digest = sha256(document_text)
    todo = (
        f"add an entry `## {version}` at the top of CHANGELOG.md listing each change to the "
        f"contract (breaking ones marked), with the line `openapi.json sha256: {digest}`; bump "
        "API_VERSION (app/__init__.py) by semver first if this is a new contract version."
    )
    entries = list(_ENTRY.finditer(changelog_text))
    if not entries:
        return f"CHANGELOG.md has no entry: {todo}"
    latest = entries[0]
    end = entries[1].start() if len(entries) > 1 else len(changelog_text)
    if latest.group("version") != version:
        return (
            f"CHANGELOG.md's latest entry is {latest.group('version')}, the document's "
            f"info.version is {version}: {todo}"
        )
    recorded = _SHA.search(changelog_text, latest.start(), end)
    if recorded is None or recorded.group("hex") != digest:
        return f"openapi/openapi.json changed since CHANGELOG.md's latest entry: {todo}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[1] not in ("write", "check"):
        print("usage: python -m app.http.openapi write|check PATH [CHANGELOG]", file=sys.stderr)
        return 2
    path = Path(argv[2])
    changelog = Path(argv[3]) if len(argv) == 4 else Path("CHANGELOG.md")
    document = served()
    # A development tool (the dev extra), imported here so that serving never needs it.
    from openapi_spec_validator import validate

    validate(document)
    text = render(document)
    if argv[1] == "write":
        path.write_text(text, encoding="utf-8")
        print(f"{path} written; openapi.json sha256: {sha256(text)}")
        return 0
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        print(f"{path} differs from what the app serves: run `make openapi` and commit it.")
        return 1
    problem = changelog_problem(
        text,
        changelog.read_text(encoding="utf-8") if changelog.exists() else "",
        version=document["info"]["version"],
    )
    if problem is not None:
        print(problem)
        return 1
    print(f"{path} matches the app and {changelog}'s latest entry.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
