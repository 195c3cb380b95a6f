"""Shared contract pieces: the camelCase base models, the page envelope and the problem body."""

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema, PydanticCustomError

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ApiModel(BaseModel):
    """A response model: camelCase on the wire, built from ORM rows or dicts by field name."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        from_attributes=True,
    )


class ApiInput(BaseModel):
    """A request body: camelCase only, and unknown fields are refused so typos don't vanish."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", validate_by_name=False)


class ApiQuery(BaseModel):
    """Query parameters as one model: camelCase names, validated together (so a rule that
    spans two parameters lives in the contract, not in a service)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True)


class ApiPatch(ApiInput):
    """A PATCH body (JSON merge patch): absent fields are kept, ``null`` clears an optional
    field. Fields named in ``not_null`` cannot be cleared: null is a 422 on that field, and the
    published schema does not offer null for them."""

    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        # Runs only for fields the body sets, so absent fields stay absent.
        if value is None and info.field_name in cls.not_null:
            raise PydanticCustomError("not_null", "Cannot be null: this field cannot be cleared.")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name in cls.not_null:
            field = schema["properties"][to_camel(name)]
            field.pop("default", None)
            options = [o for o in field.pop("anyOf", []) if o.get("type") != "null"]
            if len(options) == 1:
                field.update(options[0])
            elif options:
                field["anyOf"] = options
        return schema


T = TypeVar("T")


class Links(ApiModel):
    self: str = Field(description="This page.")
    next: str | None = Field(description="The next page, or null on the last page.")


class Page(ApiModel, Generic[T]):
    items: list[T]
    links: Links

    # Each list declares a named subclass (class AssetPage(Page[AssetPublic])), so that the
    # schema, and the class a generated client makes of it, is AssetPage, not Page_AssetPublic_.


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ProblemFieldIssue(ApiModel):
    pointer: str = Field(
        description="JSON pointer into the body (#/name) or the name of the parameter or header "
        "(a CSV import: the column).",
        examples=["#/odsCode"],
    )
    message: str = Field(examples=["String should match pattern '^[A-Z0-9]{1,9}$'"])
    # Absent rather than null outside imports, so the schema offers no null either.
    line: int | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Imports only: the row as a person counts it: in a CSV file or a workbook "
        "the header is row 1; in a JSON array the first element is row 1 (the pointer, #/0/..., "
        "counts from 0).",
        examples=[3],
    )
    column: str | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Imports only: the column (CSV) or field (JSON) at fault.",
        examples=["maturity"],
    )


class Problem(ApiModel):
    """RFC 9457 problem details, with a stable ``code`` and the request's ``traceId``."""

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["Organisation 0b9e... does not exist."])
    instance: str = Field(examples=["/v1/organisations/0b9e..."])
    code: str = Field(examples=["NOT_FOUND"])
    trace_id: str = Field(examples=["5c0d6a7e2f6d4a53a4d1f7f3c1e2b9aa"])
    errors: list[ProblemFieldIssue] = Field(default_factory=list)


MODEL_RETIRED = (
    "MODEL_RETIRED: the reference model named, or the model a variant is based on, is retired"
)


def problem_responses(
    *statuses: int, conflict: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error statuses a route can return; ``conflict``
    says what a 409 means on this route, when it is more than the generic conflict."""
    descriptions = {
        400: "Bad request (malformed parameter, header or cursor)",
        401: "No credentials, or credentials that are not valid (WWW-Authenticate: Bearer)",
        403: "The credential's role may not do this",
        404: "Not found",
        406: "No representation in a media type that Accept allows",
        409: "Conflict with the current state",
        410: "What the Idempotency-Key's first request created has been deleted since",
        412: "If-Match does not match the current version",
        413: "Request body too large",
        415: "Request body is not JSON",
        422: "Validation failed; errors[] lists each field",
        428: "If-Match header required",
        429: "Too many requests: see Retry-After and RateLimit-* headers",
        503: "Not ready",
    }
    if conflict is not None:
        descriptions[409] = conflict
    return {
        status: {
            "description": descriptions[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
