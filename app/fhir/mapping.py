"""An organisation as a FHIR Organization: a pure function of the rows, no I/O.

The type is coded twice where ODS has a role for it: the ODS role (what NHS systems
recognise) and this service's own organisation type (what the gap analysis uses, finer for
trusts). docs/fhir.md lists the mapping and what is not covered.
"""

from app.fhir.schemas import (
    FhirCapabilityStatement,
    FhirCodeableConcept,
    FhirCoding,
    FhirIdentifier,
    FhirImplementation,
    FhirInteraction,
    FhirMeta,
    FhirOrganization,
    FhirReference,
    FhirRest,
    FhirRestResource,
    FhirSearchParam,
    FhirSoftware,
)
from app.ods.roles import ODS_CODE_SYSTEM, ODS_ROLE_SYSTEM, ROLE_OF_TYPE
from app.organisations.schemas import OrganisationPublic
from app.vocabulary import OrganisationType

# No resolvable home for it yet: a URN names it without pretending to be a web address.
ORGANISATION_TYPE_SYSTEM = "urn:lhs-asset-map:fhir:CodeSystem:organisation-type"

TYPE_DISPLAY: dict[OrganisationType, str] = {
    OrganisationType.TRUST: "NHS trust",
    OrganisationType.ACUTE_TRUST: "Acute trust",
    OrganisationType.MENTAL_HEALTH_TRUST: "Mental health trust",
    OrganisationType.COMMUNITY_TRUST: "Community trust",
    OrganisationType.AMBULANCE_TRUST: "Ambulance trust",
    OrganisationType.ICB: "Integrated care board",
    OrganisationType.ICS: "Integrated care system",
    OrganisationType.PRIMARY_CARE_NETWORK: "Primary care network",
    OrganisationType.GP_FEDERATION: "GP federation",
    OrganisationType.GP_PRACTICE: "GP practice",
    OrganisationType.LOCAL_AUTHORITY: "Local authority",
    OrganisationType.NETWORK: "Network",
    OrganisationType.VOLUNTARY_SECTOR: "Voluntary sector organisation",
    OrganisationType.OTHER: "Other",
}


def ods_identifier(ods_code: str | None, *, official: bool = False) -> FhirIdentifier | None:
    if ods_code is None:
        return None
    return FhirIdentifier(
        use="official" if official else None, system=ODS_CODE_SYSTEM, value=ods_code
    )


def _alias(organisation: OrganisationPublic) -> list[str] | None:
    """The official name, as FHIR's ``alias`` (a name the organisation is also known by)."""
    official = organisation.official_name
    return [official] if official and official != organisation.name else None


def organisation_type(kind: OrganisationType) -> FhirCodeableConcept:
    coding = []
    role = ROLE_OF_TYPE.get(kind)
    if role is not None:
        coding.append(FhirCoding(system=ODS_ROLE_SYSTEM, code=role.code, display=role.display))
    display = TYPE_DISPLAY[kind]
    coding.append(FhirCoding(system=ORGANISATION_TYPE_SYSTEM, code=kind.value, display=display))
    return FhirCodeableConcept(coding=coding, text=display)


def organization(
    organisation: OrganisationPublic, *, parent: OrganisationPublic | None, parent_url: str | None
) -> FhirOrganization:
    """``parent_url`` is where the parent's own FHIR resource is served (absolute); ``parent``
    is None when the caller may not see it, and the reference then gives the address only."""
    part_of = None
    if parent_url is not None:
        part_of = FhirReference(
            reference=parent_url,
            type="Organization",
            identifier=ods_identifier(parent.ods_code) if parent else None,
            display=parent.name if parent else None,
        )
    identifier = ods_identifier(organisation.ods_code, official=True)
    return FhirOrganization(
        resource_type="Organization",
        id=str(organisation.id),
        meta=FhirMeta(version_id=str(organisation.version), last_updated=organisation.updated_at),
        identifier=[identifier] if identifier else None,
        # Every organisation recorded here is current: a closed one is deleted, not kept.
        active=True,
        type=[organisation_type(organisation.organisation_type)],
        name=organisation.name,
        alias=_alias(organisation),
        part_of=part_of,
    )


def capability_statement(*, version: str, base_url: str, date: str) -> FhirCapabilityStatement:
    """What the FHIR base serves, for FHIR clients that read /metadata before anything else."""
    identifier = FhirSearchParam(
        name="identifier",
        definition="http://hl7.org/fhir/SearchParameter/Organization-identifier",
        type="token",
        documentation=f"The ODS code: {ODS_CODE_SYSTEM}|RXQ, or the code alone. Commas are "
        "OR; the parameter repeated is AND.",
    )
    count = FhirSearchParam(
        name="_count",
        type="number",
        documentation="Matches per page (default 50, at most 500; 0 gives the total only).",
    )
    organization_resource = FhirRestResource(
        type="Organization",
        interaction=[FhirInteraction(code="read"), FhirInteraction(code="search-type")],
        search_param=[identifier, count],
        read_history=False,
        update_create=False,
        conditional_read="not-supported",
        versioning="versioned",
    )
    return FhirCapabilityStatement(
        resource_type="CapabilityStatement",
        status="active",
        date=date,
        publisher="LHS asset-mapping service",
        kind="instance",
        software=FhirSoftware(name="LHS asset-mapping service", version=version),
        implementation=FhirImplementation(
            description="Organisations of the LHS asset map, as FHIR R4 Organization "
            "resources (UK Core shape).",
            url=base_url,
        ),
        fhir_version="4.0.1",
        format=["application/fhir+json", "json"],
        rest=[
            FhirRest(
                mode="server",
                documentation="A bearer credential (Authorization: Bearer <key>) for every "
                "interaction but this one; a caller sees only the organisations its key may "
                "read. Errors are OperationOutcome resources.",
                resource=[organization_resource],
            )
        ],
    )
