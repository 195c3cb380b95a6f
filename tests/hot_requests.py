"""The hot requests: what callers send again and again, in one list.

Plain data, read by the plan check (tests/test_query_plans.py), which drives each one through
the app on seeded data and explains every statement it ran. A new endpoint that callers will
hit often gets a line here.

URL templates name the seeded world's records in braces (see tests/test_query_plans.py):
``{ics}`` (an ICS), ``{trust}`` (one of its members), ``{practice}`` (another member), ``{asset}``,
``{activity}``, ``{plan_item}``, ``{self_assessment}``, ``{ods_code}`` (the trust's ODS code),
``{doomed_asset}`` (an asset made for the delete). ``caller`` is whose key sends it: ``admin``
(a global caller: a national dashboard, an operator), ``ics`` (a reader scoped to the ICS: its
portal), ``trust`` (an editor scoped to the trust: its intranet).
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HotRequest:
    name: str
    method: str
    url: str
    who: str
    caller: str = "admin"
    body: dict[str, Any] | None = None
    # Updates and deletes send the record's current ETag (read first, not checked).
    if_match: bool = False
    # Lists: follow links.next once, so the keyset query of a later page is checked too.
    next_page: bool = False
    headers: dict[str, str] = field(default_factory=dict)


# Whole reads allowed, each with its reason: of a table by any request (None), or by one
# request. Keep it short: what is listed here no plan check notices again as the data grows.
ALLOWED: dict[tuple[str, str | None], str] = {
    ("feed_clock", None): "one row, by a CHECK constraint: the change feed's last position",
    ("organisation", "organisations by name"): (
        "?q= matches a substring of the name, which no B-tree serves (a trigram index would, "
        "on PostgreSQL alone); the scan runs in the page's order and stops at its 50th match, "
        "over a table of some 8,000 rows at national scale"
    ),
    ("asset", "all assets, filtered"): (
        "a filter on every asset in the country (maturity, area, capability) keeps from a "
        "thirtieth to half of the rows: the scan runs in the page's order and stops at its "
        "50th match, cheaper than an index per filter that every write would pay for"
    ),
    ("organisation", "all assets CSV"): (
        "the export of every asset names every organisation: each row is read once, by design"
    ),
}


PAGE = "limit=50"

HOT_REQUESTS: tuple[HotRequest, ...] = (
    # Organisations
    HotRequest("organisation get", "GET", "/v1/organisations/{trust}", "ICS portal", "ics"),
    HotRequest(
        "organisations list",
        "GET",
        f"/v1/organisations?{PAGE}",
        "national dashboard",
        next_page=True,
    ),
    HotRequest(
        "organisations by parent",
        "GET",
        f"/v1/organisations?parentId={{ics}}&{PAGE}",
        "ICS portal",
        "ics",
        next_page=True,
    ),
    HotRequest(
        "organisations by type",
        "GET",
        f"/v1/organisations?organisationType=gp_practice&{PAGE}",
        "national dashboard",
        next_page=True,
    ),
    HotRequest(
        "organisations by ODS code", "GET", "/v1/organisations?odsCode={ods_code}", "other systems"
    ),
    HotRequest("organisations by name", "GET", f"/v1/organisations?q=Trust&{PAGE}", "analyst"),
    HotRequest(
        "members",
        "GET",
        f"/v1/organisations/{{ics}}/members?{PAGE}",
        "ICS portal",
        "ics",
        next_page=True,
    ),
    HotRequest(
        "members, all depths",
        "GET",
        f"/v1/organisations/{{ics}}/members?depth=all&{PAGE}",
        "ICS portal",
        "ics",
    ),
    # Assets, and the write path of one
    HotRequest("asset get", "GET", "/v1/assets/{asset}", "trust intranet", "trust"),
    HotRequest(
        "assets list",
        "GET",
        f"/v1/organisations/{{trust}}/assets?{PAGE}",
        "trust intranet",
        "trust",
        next_page=True,
    ),
    HotRequest(
        "assets by area and capability",
        "GET",
        f"/v1/organisations/{{trust}}/assets?area=data&capabilityKey=data-platform&{PAGE}",
        "ICS portal",
        "ics",
    ),
    HotRequest(
        "assets by tag and maturity",
        "GET",
        f"/v1/organisations/{{trust}}/assets?tag=shared&minMaturity=2&{PAGE}",
        "ICS portal",
        "ics",
    ),
    HotRequest(
        "assets of the system",
        "GET",
        f"/v1/organisations/{{ics}}/assets?depth=all&{PAGE}",
        "ICS portal",
        "ics",
        next_page=True,
    ),
    HotRequest(
        "asset create",
        "POST",
        "/v1/organisations/{trust}/assets",
        "trust intranet",
        "trust",
        body={
            "area": "data",
            "name": "A new asset",
            "maturity": 2,
            "capabilityKey": "data-platform",
            "tags": ["new", "shared"],
        },
        # Callers that retry send one: its claim and lookup are on the write path too.
        headers={"Idempotency-Key": "plan-check-create-1"},
    ),
    HotRequest(
        "asset update",
        "PATCH",
        "/v1/assets/{asset}",
        "trust intranet",
        "trust",
        body={"maturity": 3, "tags": ["shared", "renamed"]},
        if_match=True,
    ),
    HotRequest(
        "asset delete",
        "DELETE",
        "/v1/assets/{doomed_asset}",
        "trust intranet",
        "trust",
        if_match=True,
    ),
    # Activities
    HotRequest("activity get", "GET", "/v1/activities/{activity}", "trust intranet", "trust"),
    HotRequest(
        "activities list",
        "GET",
        f"/v1/organisations/{{trust}}/activities?{PAGE}",
        "trust intranet",
        "trust",
        next_page=True,
    ),
    HotRequest(
        "activities by status and type",
        "GET",
        f"/v1/organisations/{{trust}}/activities?status=active&activityType=evaluation&{PAGE}",
        "ICS portal",
        "ics",
    ),
    # Plan items
    HotRequest("plan item get", "GET", "/v1/plan-items/{plan_item}", "trust intranet", "trust"),
    HotRequest(
        "plan items list",
        "GET",
        f"/v1/organisations/{{trust}}/plan-items?{PAGE}",
        "trust intranet",
        "trust",
        next_page=True,
    ),
    HotRequest(
        "plan items overdue and red",
        "GET",
        f"/v1/organisations/{{trust}}/plan-items?overdue=true&rag=red&{PAGE}",
        "ICS portal",
        "ics",
    ),
    # Analyses, report, benchmark
    HotRequest(
        "member gap analysis",
        "GET",
        "/v1/organisations/{trust}/gap-analysis",
        "ICS portal",
        "ics",
    ),
    HotRequest(
        "system gap analysis",
        "GET",
        "/v1/organisations/{ics}/gap-analysis?scope=system",
        "ICS portal",
        "ics",
    ),
    HotRequest(
        "board report data",
        "GET",
        "/v1/organisations/{ics}/report?format=csv",
        "ICS board secretary",
        "ics",
    ),
    HotRequest(
        "benchmark", "GET", "/v1/organisations/{trust}/benchmark", "trust intranet", "trust"
    ),
    # Feeds and logs
    HotRequest("change feed page", "GET", "/v1/changes?limit=50", "data warehouse", next_page=True),
    HotRequest(
        "change feed of a system",
        "GET",
        "/v1/changes?limit=50",
        "ICS portal",
        "ics",
        next_page=True,
    ),
    HotRequest(
        "audit log page",
        "GET",
        f"/v1/audit-events?{PAGE}",
        "information governance",
        next_page=True,
    ),
    HotRequest(
        "audit log of an organisation",
        "GET",
        f"/v1/audit-events?organisationId={{trust}}&{PAGE}",
        "information governance",
    ),
    # Self-assessments, map export
    HotRequest(
        "self-assessment get",
        "GET",
        "/v1/self-assessments/{self_assessment}",
        "trust intranet",
        "trust",
    ),
    HotRequest("map export", "GET", "/v1/organisations/{trust}/map", "trust intranet", "trust"),
    # API-key authentication: every request above looks its key up cold (caches are emptied
    # before each); this one does nothing else.
    HotRequest("API-key authentication", "GET", "/v1/organisations/{practice}", "any", "ics"),
    # FHIR
    HotRequest("FHIR Organization read", "GET", "/v1/fhir/Organization/{trust}", "other systems"),
    HotRequest(
        "FHIR Organization search",
        "GET",
        "/v1/fhir/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|{ods_code}",
        "other systems",
    ),
    # Subtree CSV exports
    HotRequest(
        "subtree assets CSV",
        "GET",
        "/v1/organisations/{ics}/assets?format=csv&depth=all",
        "ICS analyst",
        "ics",
    ),
    HotRequest(
        "subtree activities CSV",
        "GET",
        "/v1/organisations/{ics}/activities?format=csv&depth=all",
        "ICS analyst",
        "ics",
    ),
    HotRequest(
        "subtree plan items CSV",
        "GET",
        "/v1/organisations/{ics}/plan-items?format=csv&depth=all",
        "ICS analyst",
        "ics",
    ),
    # National views for a global caller (and a system's own view of itself)
    HotRequest("systems", "GET", f"/v1/systems?{PAGE}", "national dashboard", next_page=True),
    HotRequest("systems, scoped", "GET", f"/v1/systems?{PAGE}", "ICS portal", "ics"),
    HotRequest(
        "coverage by type",
        "GET",
        "/v1/capabilities/coverage?groupBy=organisationType",
        "national dashboard",
    ),
    HotRequest("all assets", "GET", f"/v1/assets?{PAGE}", "national analyst", next_page=True),
    HotRequest(
        "all assets, filtered",
        "GET",
        f"/v1/assets?minMaturity=3&{PAGE}",
        "national analyst",
    ),
    HotRequest("all assets CSV", "GET", "/v1/assets?format=csv", "national analyst"),
)
