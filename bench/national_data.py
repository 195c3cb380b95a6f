"""The national shape: every NHS organisation in England that a national programme would map,
generated deterministically from a seed, as the CSV files the service imports and as the rows
a bulk COPY writes.

At scale 1.0 (all 42 ICBs): 210 trusts, 1,250 primary care networks, 6,300 GP practices,
150 local authorities and 300 voluntary bodies below the ICBs (about 8,250 organisations),
about 300,000 assets, 150,000 activities and 30,000 plan items. ICBs are skewed as England's
are: four of 300+ members, the rest of 130 to 200. A smaller scale keeps the first ICBs whole
(the largest is always the first), so a single ICB, and what one member or one system reads,
is the same at every scale: only the rest of the country grows.
"""

import io
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.reference.service import shipped_models
from app.vocabulary import OrganisationType

SEED = 21
ICBS = 42
LARGE_ICBS = (0, 10, 20, 30)  # the few big systems; the first is the largest
TOTALS = {  # below the ICBs, across England
    "trust": 210,
    "primary_care_network": 1250,
    "gp_practice": 6300,
    "local_authority": 150,
    "voluntary_sector": 300,
}
TRUST_TYPES = (
    OrganisationType.ACUTE_TRUST,
    OrganisationType.ACUTE_TRUST,
    OrganisationType.MENTAL_HEALTH_TRUST,
    OrganisationType.COMMUNITY_TRUST,
    OrganisationType.AMBULANCE_TRUST,
)
# Assets each kind of organisation holds (inclusive range); activities are about half of that,
# plan items a tenth.
ASSETS = {
    OrganisationType.ICB: (500, 1000),
    "trust": (100, 300),
    OrganisationType.PRIMARY_CARE_NETWORK: (40, 80),
    OrganisationType.GP_PRACTICE: (10, 30),
    OrganisationType.LOCAL_AUTHORITY: (100, 200),
    OrganisationType.VOLUNTARY_SECTOR: (10, 30),
}
STATUSES = ("planned", "active", "completed", "stopped")
CONFIDENCE = ("self_assessed", "peer_reviewed", "evidenced")
ACTIVITY_TYPES = ("improvement_project", "evaluation", "training", "data_collection")
PLAN_STATUSES = STATUSES[:3]
RAG = ("red", "amber", "green")
TAGS = ("bench", "national", "digital", "workforce", "data")


@dataclass(frozen=True)
class Capability:
    key: str
    area: str
    applies_to: frozenset[str]


def _capabilities() -> list[Capability]:
    model = shipped_models()[-1]
    return [
        Capability(c.key, c.area.value, frozenset(t.value for t in c.applies_to or ()))
        for c in model.capabilities
    ]


CAPABILITIES = _capabilities()


def capabilities_for(kind: str) -> list[Capability]:
    """The model's capabilities that apply to this kind of organisation (all, if none says)."""
    own = [c for c in CAPABILITIES if not c.applies_to or kind in c.applies_to]
    return own or CAPABILITIES


@dataclass
class Org:
    code: str
    name: str
    kind: str
    parent: str | None  # the parent's ODS code; None for an ICB
    assets: int
    activities: int
    plan_items: int


@dataclass
class Icb:
    index: int
    organisations: list[Org] = field(default_factory=list)  # the ICB first, parents first

    @property
    def root(self) -> Org:
        return self.organisations[0]

    @property
    def members(self) -> list[Org]:
        return self.organisations[1:]

    def count(self, what: str) -> int:
        return int(sum(getattr(org, what) for org in self.organisations))


def _shares(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder: exact sum)."""
    whole = sum(weights)
    raw = [total * w / whole for w in weights]
    shares = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _records(rng: random.Random, kind: str, divisor: int = 1) -> tuple[int, int, int]:
    low, high = ASSETS.get(kind, ASSETS["trust"] if kind.endswith("_trust") else (10, 30))
    assets = max(1, rng.randint(low, high) // divisor)
    return assets, max(1, assets // 2), max(1, assets // 10)


def icbs_at(scale: float) -> int:
    return max(1, min(ICBS, round(ICBS * scale)))


def generate(scale: float = 1.0, seed: int = SEED, divisor: int = 1) -> list[Icb]:
    """The first ``round(42 * scale)`` ICBs of England's shape, always the same for a seed;
    ``divisor`` shrinks each ICB's members and records (the smoke run's few seconds)."""
    rng = random.Random(seed)
    weights = [
        rng.uniform(1.65, 1.85) if i in LARGE_ICBS else rng.uniform(0.7, 1.0) for i in range(ICBS)
    ]
    weights[0] = max(weights) + 0.05
    split = {kind: _shares(total, weights) for kind, total in TOTALS.items()}
    icbs = []
    for index in range(icbs_at(scale)):
        local = random.Random(seed * 1000 + index)
        code = f"Q{index:02d}"
        icb = Icb(index)
        icb.organisations.append(
            Org(code, f"ICB {index}", OrganisationType.ICB, None, *_records(local, "icb", divisor))
        )
        count = {kind: max(1, shares[index] // divisor) for kind, shares in split.items()}

        def add(
            kind: str,
            prefix: str,
            number: int,
            parent: str,
            name: str,
            index: int = index,
            local: random.Random = local,
            icb: Icb = icb,
        ) -> Org:
            org = Org(f"{prefix}{index:02d}{number:03d}", name, kind, parent, 0, 0, 0)
            org.assets, org.activities, org.plan_items = _records(local, kind, divisor)
            icb.organisations.append(org)
            return org

        for n in range(count["trust"]):
            kind = TRUST_TYPES[n % len(TRUST_TYPES)]
            add(kind, "R", n, code, f"Trust {index}-{n}")
        pcns = [
            add(OrganisationType.PRIMARY_CARE_NETWORK, "U", n, code, f"PCN {index}-{n}")
            for n in range(count["primary_care_network"])
        ]
        for n in range(count["gp_practice"]):
            # Practices sit in their PCN: the ICB's subtree is three levels deep.
            add(OrganisationType.GP_PRACTICE, "P", n, pcns[n % len(pcns)].code, f"Practice {n}")
        for n in range(count["local_authority"]):
            add(OrganisationType.LOCAL_AUTHORITY, "L", n, code, f"Council {index}-{n}")
        for n in range(count["voluntary_sector"]):
            add(OrganisationType.VOLUNTARY_SECTOR, "V", n, code, f"Voluntary {index}-{n}")
        icbs.append(icb)
    return icbs


# ---- The records of one organisation, the same whichever way they are loaded ----


@dataclass(frozen=True)
class AssetRow:
    external_id: str
    key: str
    area: str
    name: str
    description: str | None
    maturity: int
    confidence: str
    evidence: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]
    shared: bool
    reviewed_by: str | None


@dataclass(frozen=True)
class ActivityRow:
    external_id: str
    key: str
    area: str
    title: str
    activity_type: str
    status: str
    goal: str | None
    asset: str  # the externalId of the organisation's asset it uses


@dataclass(frozen=True)
class PlanItemRow:
    external_id: str
    key: str
    title: str
    status: str
    rag: str
    asset: str


REVIEWED_AT = "2026-01-10T09:00:00Z"


def assets_of(org: Org) -> Iterator[AssetRow]:
    caps = capabilities_for(org.kind)
    for i in range(org.assets):
        cap = caps[(i * 7 + len(org.code)) % len(caps)]
        confidence = CONFIDENCE[i % 3]
        yield AssetRow(
            external_id=f"a{i}",
            key=cap.key,
            area=cap.area,
            name=f"{org.name} asset {i}",
            description="A generated asset of the national data set." if i % 2 else None,
            maturity=i % 5,
            confidence=confidence,
            evidence=(
                (("Assurance report", "https://example.nhs.uk/report.pdf"),)
                if confidence == "evidenced"
                else ()
            ),
            tags=TAGS[: i % 3],
            shared=i % 50 == 0,
            reviewed_by="Peer trust" if confidence == "peer_reviewed" else None,
        )


def activities_of(org: Org) -> Iterator[ActivityRow]:
    caps = capabilities_for(org.kind)
    for i in range(org.activities):
        cap = caps[(i * 5 + 3) % len(caps)]
        yield ActivityRow(
            external_id=f"c{i}",
            key=cap.key,
            area=cap.area,
            title=f"Activity {i}",
            activity_type=ACTIVITY_TYPES[i % len(ACTIVITY_TYPES)],
            status=STATUSES[i % 4],
            goal="A goal" if i % 3 == 0 else None,
            asset=f"a{(i * 2) % org.assets}",
        )


def plan_items_of(org: Org) -> Iterator[PlanItemRow]:
    caps = capabilities_for(org.kind)
    for i in range(org.plan_items):
        cap = caps[(i * 3 + 1) % len(caps)]
        yield PlanItemRow(
            external_id=f"p{i}",
            key=cap.key,
            title=f"Plan item {i}",
            status=PLAN_STATUSES[i % 3],
            rag=RAG[i % 3],
            asset=f"a{(i * 10) % org.assets}",
        )


# ---- As CSV files, one per ICB and kind (what an ICB's programme team would upload) ----


def _csv(header: list[str], rows: Iterator[list[str]]) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def organisations_csv(icb: Icb) -> bytes:
    return _csv(
        ["odsCode", "name", "organisationType", "parentOdsCode"],
        (
            [o.code, o.name, str(o.kind), "" if o.parent == icb.root.code else str(o.parent)]
            for o in icb.members
        ),
    )


def assets_csv(icb: Icb) -> bytes:
    def rows() -> Iterator[list[str]]:
        for org in icb.organisations:
            for a in assets_of(org):
                yield [
                    a.external_id,
                    org.code,
                    a.area,
                    a.key,
                    a.name,
                    a.description or "",
                    str(a.maturity),
                    a.confidence,
                    ";".join(f"{t}|{u}" for t, u in a.evidence),
                    ";".join(a.tags),
                    "true" if a.shared else "false",
                    a.reviewed_by or "",
                    REVIEWED_AT if a.reviewed_by else "",
                ]

    return _csv(
        [
            "externalId",
            "organisationOdsCode",
            "area",
            "capabilityKey",
            "name",
            "description",
            "maturity",
            "confidence",
            "evidence",
            "tags",
            "sharedWithMembers",
            "reviewedBy",
            "reviewedAt",
        ],
        rows(),
    )


def activities_csv(icb: Icb) -> bytes:
    def rows() -> Iterator[list[str]]:
        for org in icb.organisations:
            for a in activities_of(org):
                yield [
                    a.external_id,
                    org.code,
                    a.area,
                    a.key,
                    a.title,
                    a.activity_type,
                    a.status,
                    a.goal or "",
                    a.asset,
                ]

    return _csv(
        [
            "externalId",
            "organisationOdsCode",
            "area",
            "capabilityKey",
            "title",
            "activityType",
            "status",
            "goal",
            "assetExternalIds",
        ],
        rows(),
    )


def plan_items_csv(icb: Icb) -> bytes:
    def rows() -> Iterator[list[str]]:
        for org in icb.organisations:
            for p in plan_items_of(org):
                yield [p.external_id, org.code, p.key, p.title, p.status, p.rag, p.asset]

    return _csv(
        [
            "externalId",
            "organisationOdsCode",
            "capabilityKey",
            "title",
            "status",
            "rag",
            "assetExternalIds",
        ],
        rows(),
    )


def totals(icbs: list[Icb]) -> dict[str, int]:
    return {
        "icbs": len(icbs),
        "organisations": sum(len(i.organisations) for i in icbs),
        "assets": sum(i.count("assets") for i in icbs),
        "activities": sum(i.count("activities") for i in icbs),
        "plan_items": sum(i.count("plan_items") for i in icbs),
        "largest_icb_members": max(len(i.members) for i in icbs),
    }


def ids(seed: str) -> uuid.UUID:
    """A stable id for a generated record (the COPY floor's ids)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lhs-national:{seed}")
