"""ODS role codes and how they map to our organisation types, in both directions.

The codes are those of the ODS ``ODSOrganisationRole`` code system (the ``RO…`` ids the ORD API
returns). ODS has no role for the kind of an NHS trust (acute, mental health...), nor for a GP
federation or a clinical network, so those map one way only (docs/fhir.md has the table).
"""

from dataclasses import dataclass

from app.vocabulary import OrganisationType

ODS_CODE_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_ROLE_SYSTEM = (
    "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"
)


@dataclass(frozen=True)
class Role:
    code: str
    display: str


NHS_TRUST = Role("RO197", "NHS TRUST")
FOUNDATION_TRUST = Role("RO57", "FOUNDATION TRUST")
CARE_TRUST = Role("RO107", "CARE TRUST")
INTEGRATED_CARE_BOARD = Role("RO318", "INTEGRATED CARE BOARD")
STRATEGIC_PARTNERSHIP = Role("RO261", "STRATEGIC PARTNERSHIP")
TRANSFORMATION_PARTNERSHIP = Role("RO262", "SUSTAINABILITY TRANSFORMATION PARTNERSHIP")
PRIMARY_CARE_NETWORK = Role("RO272", "PRIMARY CARE NETWORK")
GP_PRACTICE = Role("RO76", "GP PRACTICE")
LOCAL_AUTHORITY = Role("RO141", "LOCAL AUTHORITY")

TRUST_KINDS = frozenset(
    {
        OrganisationType.TRUST,
        OrganisationType.ACUTE_TRUST,
        OrganisationType.MENTAL_HEALTH_TRUST,
        OrganisationType.COMMUNITY_TRUST,
        OrganisationType.AMBULANCE_TRUST,
    }
)

# Our type -> the ODS role that names it, where ODS has one.
ROLE_OF_TYPE: dict[OrganisationType, Role] = {
    **dict.fromkeys(TRUST_KINDS, NHS_TRUST),
    OrganisationType.ICB: INTEGRATED_CARE_BOARD,
    OrganisationType.ICS: STRATEGIC_PARTNERSHIP,
    OrganisationType.PRIMARY_CARE_NETWORK: PRIMARY_CARE_NETWORK,
    OrganisationType.GP_PRACTICE: GP_PRACTICE,
    OrganisationType.LOCAL_AUTHORITY: LOCAL_AUTHORITY,
}

# An ODS record's roles -> our type: the first role in this list that the record holds wins.
# Most specific first: an ICB's record holds STRATEGIC PARTNERSHIP as its primary role and
# INTEGRATED CARE BOARD beside it; a GP practice's primary role is PRESCRIBING COST CENTRE.
TYPE_OF_ROLE: tuple[tuple[str, OrganisationType], ...] = (
    (GP_PRACTICE.code, OrganisationType.GP_PRACTICE),
    (PRIMARY_CARE_NETWORK.code, OrganisationType.PRIMARY_CARE_NETWORK),
    (INTEGRATED_CARE_BOARD.code, OrganisationType.ICB),
    (STRATEGIC_PARTNERSHIP.code, OrganisationType.ICS),
    (TRANSFORMATION_PARTNERSHIP.code, OrganisationType.ICS),
    (NHS_TRUST.code, OrganisationType.TRUST),
    (FOUNDATION_TRUST.code, OrganisationType.TRUST),
    (CARE_TRUST.code, OrganisationType.TRUST),
    (LOCAL_AUTHORITY.code, OrganisationType.LOCAL_AUTHORITY),
)


def type_of_roles(role_codes: set[str]) -> OrganisationType:
    for code, organisation_type in TYPE_OF_ROLE:
        if code in role_codes:
            return organisation_type
    return OrganisationType.OTHER
