"""The frameworks a capability maps to, and each one's headings (in the order its publisher
lists them). A heading key is what a crosswalk file, a view and an imported return name."""

from enum import StrEnum


class Framework(StrEnum):
    WGLL = "wgll"
    NHS_IMPACT = "nhs-impact"
    NMG = "nmg"


TITLES: dict[Framework, str] = {
    Framework.WGLL: "What Good Looks Like (NHS England): the pillars the Digital Maturity "
    "Assessment scores",
    Framework.NHS_IMPACT: "NHS IMPACT (Improving Patient Care Together): its five components",
    Framework.NMG: "Network Maturity Grid (learning networks): its domains",
}

HEADINGS: dict[Framework, dict[str, str]] = {
    Framework.WGLL: {
        "well-led": "Well led",
        "smart-foundations": "Ensure smart foundations",
        "safe-practice": "Safe practice",
        "support-people": "Support people",
        "empower-citizens": "Empower citizens",
        "improve-care": "Improve care",
        "healthy-populations": "Healthy populations",
    },
    Framework.NHS_IMPACT: {
        "shared-purpose-and-vision": "Building a shared purpose and vision",
        "investing-in-people-and-culture": "Investing in people and culture",
        "leadership-behaviours": "Developing leadership behaviours",
        "improvement-capability-and-capacity": "Building improvement capability and capacity",
        "embedding-improvement-into-management-systems": "Embedding improvement into "
        "management systems and processes",
    },
    Framework.NMG: {
        "systems-of-leadership": "Systems of leadership",
        "governance-and-management": "Governance and management",
        "quality-improvement": "Quality improvement",
        "community-building-and-engagement": "Community building and engagement",
        "data-and-analytics": "Data and analytics",
        "research": "Research",
    },
}
