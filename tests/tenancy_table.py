"""The tenancy matrix: one row per operationId of the OpenAPI document.

Each row says what a caller gets, by role (reader, editor, admin), for a target inside its own
scope (ICS A), for the same kind of target in the sibling ICS (B), and as a global caller on
the own target; and how to make a valid request for that target, so that the status reflects
access and nothing else (a body that validates, the current If-Match). Writes that would
change the world act on throwaway records made for the one request.

A new operation without a row fails tests/test_tenancy_matrix.py: decide its row here.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.auth_helpers import make_key
from tests.tenancy_world import BASE, Json, World, variant_body

# Where the request points: inside ICS A (also what global callers are sent to), or into B.
OWN, SIBLING = "own", "sibling"
IF_MATCH_1 = {"If-Match": 'W/"1"'}


@dataclass(frozen=True)
class Request:
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Maker = Callable[[World, str], Awaitable[Request]]
Statuses = int | tuple[int, int, int]  # one for every role, or (reader, editor, admin)


@dataclass(frozen=True)
class Row:
    make: Maker
    own: Statuses = 200
    sibling: Statuses = 404
    glob: Statuses = 200
    public: bool = False

    def expected(self, column: str, role: str) -> int:
        statuses = {"own": self.own, "sibling": self.sibling, "global": self.glob}[column]
        if isinstance(statuses, int):
            return statuses
        return statuses[("reader", "editor", "admin").index(role)]


def _side(own: str, sibling: str) -> Callable[[str], str]:
    return lambda side: own if side == OWN else sibling


ORG = _side("A1", "B1")  # a trust in A, or in B
ICS = _side("A", "B")


async def _none(world: World, side: str) -> Request:
    return Request()


def org_path(pick: Callable[[str], str] = ORG) -> Maker:
    async def make(world: World, side: str) -> Request:
        return Request(path={"organisationId": world.org(pick(side))})

    return make


def record_path(kind: str, parameter: str) -> Maker:
    async def make(world: World, side: str) -> Request:
        records: dict[str, Json] = getattr(world, kind)
        return Request(path={parameter: str(records[ORG(side)]["id"])})

    return make


async def _throwaway(world: World, url: str, body: Json) -> Json:
    response = await world.admin("POST", url, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


ORG_BODY = {"name": "Throwaway", "organisationType": "trust"}
ASSET_BODY = {"area": "data", "name": "Throwaway asset", "maturity": 2}
ACTIVITY_BODY = {"area": "improvement", "title": "Throwaway", "activityType": "improvement_project"}
PATCHES = {"organisations": {"name": "Renamed"}, "assets": {"name": "Renamed"}}
PATCHES["activities"] = {"title": "Renamed"}
PLAN_ITEM_BODY = {"capabilityKey": "learning-culture", "title": "Throwaway"}
PATCHES["plan-items"] = {"rag": "red"}
BODIES: dict[str, Json] = {
    "assets": ASSET_BODY,
    "activities": ACTIVITY_BODY,
    "plan-items": PLAN_ITEM_BODY,
}


def throwaway_write(kind: str, parameter: str, *, patch: bool) -> Maker:
    """A record made for this request alone (in A1 or B1; an organisation under A or B)."""

    async def make(world: World, side: str) -> Request:
        if kind == "organisations":
            row = await _throwaway(
                world, "/v1/organisations", ORG_BODY | {"parentId": ICS_ID(world, side)}
            )
        else:
            url = f"/v1/organisations/{world.org(ORG(side))}/{kind}"
            row = await _throwaway(world, url, BODIES[kind])
        return Request(
            path={parameter: str(row["id"])},
            json=PATCHES[kind] if patch else None,
            headers=IF_MATCH_1,
        )

    return make


def ICS_ID(world: World, side: str) -> str:  # noqa: N802 - reads like the constant it stands for
    return world.org(ICS(side))


def create_in(body: Json) -> Maker:
    async def make(world: World, side: str) -> Request:
        return Request(path={"organisationId": world.org(ORG(side))}, json=body)

    return make


async def create_organisation(world: World, side: str) -> Request:
    return Request(json=ORG_BODY | {"parentId": ICS_ID(world, side)})


async def list_organisations(world: World, side: str) -> Request:
    return Request(query={} if side == OWN else {"parentId": ICS_ID(world, side)})


def assessment(index: int = 0) -> Maker:
    async def make(world: World, side: str) -> Request:
        found = world.assessments[ORG(side)]
        query = {"with": str(found[1]["id"])} if index else {}
        return Request(path={"assessmentId": str(found[0]["id"])}, query=query)

    return make


def variant(world: World, side: str) -> str:
    return world.variants["a" if side == OWN else "b"]


async def model_path(world: World, side: str) -> Request:
    return Request(path={"version": variant(world, side)})


async def crosswalk_path(world: World, side: str) -> Request:
    return Request(path={"version": "2026.2", "framework": "wgll"})


async def put_model(world: World, side: str) -> Request:
    """Own: a new variant (version made for this request). Sibling: B's variant, by name."""
    version = f"{BASE}-mx{uuid.uuid4().hex[:8]}" if side == OWN else variant(world, side)
    return Request(path={"version": version}, json=variant_body(version, "Matrix variant"))


async def create_key(world: World, side: str) -> Request:
    return Request(json={"name": "matrix", "role": "reader", "organisationId": ICS_ID(world, side)})


async def key_path(world: World, side: str) -> Request:
    return Request(path={"apiKeyId": world.key_ids["a-reader" if side == OWN else "b-admin"]})


async def throwaway_key(world: World, side: str) -> Request:
    row, _ = await make_key(world.backend.app.state.sessions, "reader", ICS_ID(world, side))
    return Request(path={"apiKeyId": str(row.id)})


async def audit_events(world: World, side: str) -> Request:
    return Request(query={} if side == OWN else {"organisationId": ICS_ID(world, side)})


def dry_run_import(body: Json, kind: str | None = None) -> Maker:
    """A dry run: the same checks as an import, and nothing written (``kind``: the path that
    names it)."""

    async def make(world: World, side: str) -> Request:
        path = {"organisationId": world.org(ORG(side))} | ({"kind": kind} if kind else {})
        return Request(path=path, query={"dryRun": "true"}, json=[body])

    return make


async def asset_template(world: World, side: str) -> Request:
    return Request(path={"kind": "assets"})


async def map_document(world: World, side: str) -> Request:
    """A one-organisation map (new ids each time) to hang under ICS A, or under B."""
    stamp = "2026-11-27T09:00:00Z"
    organisation = {
        "id": str(uuid.uuid4()),
        "name": "Imported",
        "odsCode": None,
        "organisationType": "trust",
        "parentId": ICS_ID(world, side),
        "region": None,
        "createdAt": stamp,
        "updatedAt": stamp,
        "version": 1,
    }
    document = {
        "exportedAt": stamp,
        "rootId": organisation["id"],
        "organisations": [organisation],
        "assets": [],
        "activities": [],
        "assessments": [],
        "referenceModels": [],
    }
    return Request(json=document)


async def questionnaire(world: World, side: str) -> Request:
    return Request(path={"version": variant(world, side)}, query={"organisationType": "trust"})


async def _throwaway_self_assessment(
    world: World, side: str, who: str | None = None, *, submitted: bool = False
) -> str:
    """A draft in an organisation made for this request (one draft per organisation and
    model), answered once and, if asked, submitted, by ``who`` (the global admin if None)."""
    organisation = await _throwaway(
        world, "/v1/organisations", ORG_BODY | {"parentId": ICS_ID(world, side)}
    )
    headers = {} if who is None else {"Authorization": f"Bearer {who}"}
    call = world.admin if who is None else world.http.request
    url = f"/v1/organisations/{organisation['id']}/self-assessments"
    opened = await call("POST", url, json={}, headers=headers)
    assert opened.status_code == 201, opened.text
    sid = str(opened.json()["id"])
    answer = f"/v1/self-assessments/{sid}/answers/learning-culture"
    answered = await call("PUT", answer, json={"level": 2}, headers=headers)
    assert answered.status_code == 200, answered.text
    if submitted:
        headers |= {"If-Match": answered.headers["etag"]}
        done = await call("POST", f"/v1/self-assessments/{sid}/submit", headers=headers)
        assert done.status_code == 200, done.text
    return sid


async def self_assessment_in(world: World, side: str) -> Request:
    return Request(
        path={
            "organisationId": (
                await _throwaway(
                    world, "/v1/organisations", ORG_BODY | {"parentId": ICS_ID(world, side)}
                )
            )["id"]
        },
        json={},
    )


async def self_assessment(world: World, side: str) -> Request:
    return Request(path={"selfAssessmentId": await _throwaway_self_assessment(world, side)})


async def self_assessment_answer(world: World, side: str) -> Request:
    sid = await _throwaway_self_assessment(world, side)
    return Request(
        path={"selfAssessmentId": sid, "capabilityKey": "learning-culture"}, json={"level": 3}
    )


async def self_assessment_submit(world: World, side: str) -> Request:
    sid = await _throwaway_self_assessment(world, side)
    return Request(path={"selfAssessmentId": sid}, headers={"If-Match": 'W/"2"'})


async def moderation(world: World, side: str) -> Request:
    """A submitted answer by a person who is none of the callers (the author never moderates)."""
    _, author = await make_key(world.backend.app.state.sessions, "editor", None, name="author")
    sid = await _throwaway_self_assessment(world, side, author, submitted=True)
    return Request(
        path={"selfAssessmentId": sid, "capabilityKey": "learning-culture"},
        json={"decision": "agree"},
    )


async def self_assessment_link(world: World, side: str) -> Request:
    sid = await _throwaway_self_assessment(world, side)
    return Request(
        path={"selfAssessmentId": sid}, json={"action": "answer", "respondent": "Dr A Patel"}
    )


READ = 200
WRITE = (403, 200, 200)
CREATE = (403, 201, 201)
DELETE = (403, 204, 204)
ADMIN = (403, 403, 200)

TABLE: dict[str, Row] = {
    "health-ping": Row(_none, sibling=READ, public=True),
    "health-status": Row(_none, sibling=READ, public=True),
    "service-info": Row(_none, sibling=READ, public=True),
    # A list names no target: the sibling column filters on B, and sees nothing of it.
    "organisations-list": Row(list_organisations, sibling=READ),
    "organisations-create": Row(
        create_organisation, own=CREATE, sibling=(403, 422, 422), glob=CREATE
    ),
    "organisations-get": Row(org_path()),
    "organisations-update": Row(
        throwaway_write("organisations", "organisationId", patch=True), own=WRITE, glob=WRITE
    ),
    "organisations-delete": Row(
        throwaway_write("organisations", "organisationId", patch=False), own=DELETE, glob=DELETE
    ),
    "organisations-members": Row(org_path(ICS)),
    "organisations-fhir": Row(org_path()),
    # The FHIR base: its CapabilityStatement is public; a search lists only what the caller
    # may read (the sibling column finds none of B), like every list.
    "fhir-metadata": Row(_none, sibling=READ, public=True),
    "fhir-organization-read": Row(org_path()),
    "fhir-organization-search": Row(_none, sibling=READ),
    "assets-list": Row(org_path()),
    "assets-import": Row(dry_run_import(ASSET_BODY), own=WRITE, glob=WRITE),
    "activities-import": Row(dry_run_import(ACTIVITY_BODY), own=WRITE, glob=WRITE),
    "imports-create": Row(dry_run_import(ACTIVITY_BODY, "activities"), own=WRITE, glob=WRITE),
    # A template names no organisation: the same sheet for every caller.
    "imports-template": Row(asset_template, sibling=READ),
    "maps-export": Row(org_path(ICS)),
    # Hung under an organisation the caller must be able to edit: B is not there for A's keys.
    "maps-import": Row(map_document, own=CREATE, sibling=(403, 404, 404), glob=CREATE),
    "assets-create": Row(create_in(ASSET_BODY), own=CREATE, glob=CREATE),
    "assets-get": Row(record_path("assets", "assetId")),
    "assets-update": Row(throwaway_write("assets", "assetId", patch=True), own=WRITE, glob=WRITE),
    "assets-delete": Row(
        throwaway_write("assets", "assetId", patch=False), own=DELETE, glob=DELETE
    ),
    "activities-list": Row(org_path()),
    "activities-create": Row(create_in(ACTIVITY_BODY), own=CREATE, glob=CREATE),
    "activities-get": Row(record_path("activities", "activityId")),
    "activities-update": Row(
        throwaway_write("activities", "activityId", patch=True), own=WRITE, glob=WRITE
    ),
    "activities-delete": Row(
        throwaway_write("activities", "activityId", patch=False), own=DELETE, glob=DELETE
    ),
    "plan-items-list": Row(org_path()),
    "plan-items-create": Row(create_in(PLAN_ITEM_BODY), own=CREATE, glob=CREATE),
    "plan-items-get": Row(record_path("plan_items", "planItemId")),
    "plan-items-update": Row(
        throwaway_write("plan-items", "planItemId", patch=True), own=WRITE, glob=WRITE
    ),
    "plan-items-delete": Row(
        throwaway_write("plan-items", "planItemId", patch=False), own=DELETE, glob=DELETE
    ),
    "self-assessments-list": Row(org_path()),
    "self-assessments-create": Row(self_assessment_in, own=CREATE, glob=CREATE),
    "self-assessments-get": Row(self_assessment),
    "self-assessments-answer": Row(self_assessment_answer, own=WRITE, glob=WRITE),
    "self-assessments-submit": Row(self_assessment_submit, own=WRITE, glob=WRITE),
    "self-assessments-moderate": Row(moderation, own=WRITE, glob=WRITE),
    # Minting needs an editor before anything is looked up: a reader is refused anywhere.
    "self-assessments-link": Row(
        self_assessment_link, own=WRITE, sibling=(403, 404, 404), glob=WRITE
    ),
    "reference-models-questionnaire": Row(questionnaire),
    "assessments-list": Row(org_path()),
    "assessments-create": Row(create_in({"label": "matrix"}), own=CREATE, glob=CREATE),
    "assessments-get": Row(assessment()),
    "assessments-compare": Row(assessment(1)),
    "gap-analysis-get": Row(org_path()),
    "benchmarks-get": Row(org_path()),
    "reports-get": Row(org_path()),
    "reports-link": Row(org_path()),
    # Closing a browser's access needs no more than reading the page (a bearer caller has no
    # cookie to clear; under a link cookie the form's CSRF token is needed too).
    "reports-sign-out": Row(org_path()),
    # Base models are everyone's; a variant is visible inside its owner's subtree.
    "reference-models-list": Row(_none, sibling=READ),
    "reference-models-get": Row(model_path),
    "reference-models-capabilities": Row(model_path),
    # Crosswalks come with base models, which are everyone's (a variant has none: 404).
    "reference-models-crosswalk": Row(crosswalk_path, sibling=READ),
    # Versions are one namespace: B's variant's name is taken (409), as an ODS code would be.
    "reference-models-put": Row(
        put_model, own=(403, 403, 201), sibling=(403, 403, 409), glob=(403, 403, 201)
    ),
    "api-keys-create": Row(
        create_key, own=(403, 403, 201), sibling=(403, 403, 422), glob=(403, 403, 201)
    ),
    "api-keys-list": Row(_none, own=ADMIN, sibling=ADMIN, glob=ADMIN),
    "api-keys-get": Row(key_path, own=ADMIN, sibling=(403, 403, 404), glob=ADMIN),
    "api-keys-revoke": Row(
        throwaway_key, own=(403, 403, 204), sibling=(403, 403, 404), glob=(403, 403, 204)
    ),
    # A key of its own each time: rotating one of the world's keys would lock its users out.
    "api-keys-rotate": Row(
        throwaway_key, own=(403, 403, 200), sibling=(403, 403, 404), glob=(403, 403, 200)
    ),
    "audit-events-list": Row(audit_events, own=ADMIN, sibling=ADMIN, glob=ADMIN),
    # Every caller may follow the feed; what it lists is scoped (tests/test_scope_leaks.py).
    "changes-list": Row(_none, sibling=READ),
    # National lists name no target either: what each lists is scoped (tests/test_national.py).
    "assets-list-all": Row(_none, sibling=READ),
    "systems-list": Row(_none, sibling=READ),
    "capabilities-coverage": Row(_none, sibling=READ),
}
