"""A problem as a FHIR OperationOutcome: what every error under the FHIR base is, so that a
FHIR client reads our errors as it reads any FHIR server's. A pure function of the problem;
app.http.problems chooses it for paths under the base, in the one place every problem is
rendered, so no route can forget it."""

from collections.abc import Sequence
from typing import Any, Literal

from app.fhir.schemas import (
    FHIR_JSON,
    FhirCoding,
    FhirExtension,
    FhirIssue,
    FhirIssueDetails,
    FhirOperationOutcome,
)

FHIR_BASE = "/v1/fhir"
# Our problem codes (problem+json's `code`: NOT_FOUND, VALIDATION_FAILED...) as a code system,
# so a FHIR client switches on the same codes as any other client. A URN: it has no web home.
PROBLEM_CODE_SYSTEM = "urn:lhs-asset-map:fhir:CodeSystem:problem-code"
OUTCOME_REF = "#/components/schemas/FhirOperationOutcome"
REQUEST_ID_EXTENSION = "urn:lhs-asset-map:fhir:StructureDefinition:request-id"

# FHIR's IssueType (http://hl7.org/fhir/issue-type) for each HTTP status we answer with.
_ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    428: "required",
    429: "throttled",
    503: "transient",
}


def outcome_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route under the FHIR base: what problem_responses says
    elsewhere, as OperationOutcome."""
    return {
        status: {
            "description": f"{status}: an OperationOutcome (our problem code in "
            "issue[0].details.coding)",
            "content": {FHIR_JSON: {"schema": {"$ref": OUTCOME_REF}}},
        }
        for status in statuses
    }


def in_base(path: str, root_path: str = "") -> bool:
    """Whether a request path (as the server saw it, a proxy's prefix included) is under the
    FHIR base."""
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return path == FHIR_BASE or path.startswith(FHIR_BASE + "/")


def issue_type(status: int) -> str:
    return _ISSUE_TYPE.get(status, "exception" if status >= 500 else "processing")


def operation_outcome(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str,
    fields: Sequence[tuple[str, str]] = (),
) -> FhirOperationOutcome:
    """``fields``: (pointer, message) of each field at fault, one issue each after the first
    (named in ``diagnostics``: a JSON pointer or a parameter's name is not FHIRPath)."""
    kind = issue_type(status)
    severity: Literal["fatal", "error"] = "fatal" if status >= 500 else "error"
    details = FhirIssueDetails(
        coding=[FhirCoding(system=PROBLEM_CODE_SYSTEM, code=code, display=title)], text=title
    )
    issues = [
        FhirIssue(
            severity=severity,
            code=kind,
            details=details,
            diagnostics=f"{detail} (request ID {request_id})",
        )
    ]
    issues += [
        FhirIssue(severity="error", code=kind, diagnostics=f"{pointer}: {message}")
        for pointer, message in fields
    ]
    return FhirOperationOutcome(
        resource_type="OperationOutcome",
        extension=[FhirExtension(url=REQUEST_ID_EXTENSION, value_string=request_id)],
        issue=issues,
    )
