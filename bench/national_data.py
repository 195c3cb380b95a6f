"""The national shape: every NHS organisation in England that a national programme would map,
generated deterministically from a seed, as the CSV files the service imports and as the rows
a bulk COPY writes.

At scale 1.0 (all 42 ICBs): 210 trusts, 1,250 primary care networks, 6,300 GP practices,
150 local authorities and 300 voluntary bodies below the ICBs (about 8,250 organisations),
about 300,000 assets, 150,000 activities and 30,000 plan items. ICBs are skewed as England's
are: four of 300+ members, the rest of 130 to 200. A smaller scale keeps the first ICBs whole
(the largest is always the first), so a single ICB, and what one member or one system reads,
is the same at every scale: only the rest of the country grows.

Self-assessments, about one organisation in ten (929 at scale 1.0, 25,996 answers): every
ICB and every trust, and of each ICB's own one PCN in five, one practice in twenty, one local
authority in five and one voluntary body in ten. Each answers the whole questionnaire of the
default shipped model for its type (every question ``app.questionnaire.service.questions_for``
gives it), levels 0-4 leaning to 1-3, "not applicable here" for about half the questions that
allow it (296 answers), a comment on every third answer and an evidence link on every fourth;
each is submitted, which writes an asset per answered level and stores the analysis as an
assessment. Half the primary care ones then have three answers moderated by their ICB (agree,
change the level, agree: 933 answers). The measured member (practice 0 of the first ICB)
answers none: its own records stay what they were.

Imported returns (479 returns, 4,729 scores at scale 1.0): every ICB and trust a Digital
Maturity Assessment (the seven What Good Looks Like pillars, and two domains each of two of
them: 11 rows a year) for 2025, every other one for 2024 as well (validated); every third
trust an NHS IMPACT self-assessment (its five components) for 2025. One file per organisation
and framework, imported into that organisation (a return is the organisation's own: its rows
name no organisation).
"""

import io
import random
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.questionnaire.service import not_applicable_allowed, questions_for
from app.reference.service import highest_shipped, shipped_models
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


# ---- Self-assessments and imported returns ----

MODEL = next(m for m in shipped_models() if m.version == highest_shipped())  # the default
LEVELS = (0, 1, 1, 2, 2, 2, 3, 3, 4)  # what answers and scores lean to
# Who answers the questionnaire: the kind, and one in how many of its organisations (by number).
SELF_ASSESSING = {
    "icb": 1,
    "trust": 1,
    OrganisationType.PRIMARY_CARE_NETWORK: 5,
    OrganisationType.GP_PRACTICE: 20,
    OrganisationType.LOCAL_AUTHORITY: 5,
    OrganisationType.VOLUNTARY_SECTOR: 10,
}
MODERATED_KINDS = (OrganisationType.PRIMARY_CARE_NETWORK, OrganisationType.GP_PRACTICE)
MODERATIONS = ("agree", "change", "agree")  # the first answered levels of a moderated one
MODERATOR = "bench-moderator"  # how the COPY floor names the moderating credential
CHANGE_REASON = "The evidence shows the next level: the board paper records it."
DMA_PILLARS = (
    "well-led",
    "smart-foundations",
    "safe-practice",
    "support-people",
    "empower-citizens",
    "improve-care",
    "healthy-populations",
)
DMA_DOMAINS = {
    "smart-foundations": ("Digital infrastructure", "Cyber security"),
    "safe-practice": ("Clinical safety", "Information governance"),
}
NHS_IMPACT_COMPONENTS = (
    "shared-purpose-and-vision",
    "investing-in-people-and-culture",
    "leadership-behaviours",
    "improvement-capability-and-capacity",
    "embedding-improvement-into-management-systems",
)


def _number(org: Org) -> int:
    """The organisation's number within its kind in its ICB (an ICB's: its index)."""
    return int(org.code[1:]) if org.parent is None else int(org.code[3:])


def _family(kind: str) -> str:
    return "trust" if kind.endswith("_trust") else kind


def self_assesses(org: Org) -> bool:
    every = SELF_ASSESSING.get(_family(org.kind))
    if every is None:
        return False
    # Practices from the seventh: the measured member (practice 0) keeps its own records.
    offset = 7 if org.kind == OrganisationType.GP_PRACTICE else 0
    return _number(org) % every == offset % every


def moderated(org: Org) -> bool:
    """Half the primary care self-assessments: their ICB moderates three answers of each."""
    every = SELF_ASSESSING.get(org.kind, 0)
    return org.kind in MODERATED_KINDS and self_assesses(org) and (_number(org) // every) % 2 == 0


@dataclass(frozen=True)
class AnswerRow:
    key: str
    area: str
    title: str
    level: int | None  # None: not applicable here
    comment: str | None
    evidence: tuple[tuple[str, str], ...]
    moderation: str | None = None  # agree or change (by the ICB), after the submit
    moderated_level: int | None = None  # with change

    @property
    def held_level(self) -> int | None:
        """The level the record holds in the end (the moderated one after a change)."""
        return self.moderated_level if self.moderated_level is not None else self.level


def answers_of(org: Org) -> list[AnswerRow]:
    """The organisation's answers to every question of its questionnaire (none when it does
    not self-assess), with the moderation that follows its submit."""
    if not self_assesses(org):
        return []
    kind = OrganisationType(org.kind)
    salt = zlib.crc32(org.code.encode())
    answers: list[AnswerRow] = []
    decisions = list(MODERATIONS) if moderated(org) else []
    for i, question in enumerate(questions_for(MODEL, kind)):
        skip = not_applicable_allowed(question, kind) and (i + salt) % 2 == 0
        level = None if skip else LEVELS[(i * 7 + salt) % len(LEVELS)]
        decision = decisions.pop(0) if decisions and level is not None else None
        answers.append(
            AnswerRow(
                key=question.key,
                area=question.area.value,
                title=question.title,
                level=level,
                comment=f"{org.name}: where we stand on {question.title}."[:2000]
                if i % 3 == 0
                else None,
                evidence=(
                    (("Board paper", f"https://example.nhs.uk/{org.code}/{question.key}.pdf"),)
                    if i % 4 == 0
                    else ()
                ),
                moderation=decision,
                moderated_level=(level + 1 if level < 4 else 3)
                if decision == "change" and level is not None
                else None,
            )
        )
    return answers


@dataclass(frozen=True)
class ReturnRow:
    framework: str  # the import's kind: dma or nhs-impact
    year: int
    heading: str
    domain: str | None
    score: int
    validated: bool


def returns_of(org: Org) -> list[ReturnRow]:
    """The returns the organisation imports: ICBs and trusts a DMA for 2025 (every other one
    for 2024 as well), every third trust an NHS IMPACT self-assessment for 2025."""
    family = _family(org.kind)
    if family not in ("icb", "trust"):
        return []
    n, salt = _number(org), zlib.crc32(org.code.encode())
    rows: list[ReturnRow] = []
    for year in (2024, 2025) if n % 2 == 0 else (2025,):
        for p, pillar in enumerate(DMA_PILLARS):
            for d, domain in enumerate((None, *DMA_DOMAINS.get(pillar, ()))):
                score = 1 + LEVELS[(p * 5 + d * 3 + year + salt) % len(LEVELS)]
                rows.append(ReturnRow("dma", year, pillar, domain, score, year == 2024))
    if family == "trust" and n % 3 == 0:
        for c, component in enumerate(NHS_IMPACT_COMPONENTS):
            score = 1 + LEVELS[(c * 4 + salt) % len(LEVELS)]
            rows.append(ReturnRow("nhs-impact", 2025, component, None, score, False))
    return rows


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


def return_csv(framework: str, rows: list[ReturnRow]) -> bytes:
    """One organisation's return to one framework, in the import's columns."""
    if framework == "dma":
        return _csv(
            ["year", "pillar", "domain", "score", "validated"],
            (
                [str(r.year), r.heading, r.domain or "", str(r.score), "yes" if r.validated else ""]
                for r in rows
                if r.framework == framework
            ),
        )
    return _csv(
        ["year", "component", "score", "validated"],
        (
            [str(r.year), r.heading, str(r.score), "yes" if r.validated else ""]
            for r in rows
            if r.framework == framework
        ),
    )


def totals(icbs: list[Icb]) -> dict[str, int]:
    orgs = [o for i in icbs for o in i.organisations]
    answers = [a for o in orgs for a in answers_of(o)]
    returns = [r for o in orgs for r in returns_of(o)]
    return {
        "icbs": len(icbs),
        "organisations": len(orgs),
        "assets": sum(i.count("assets") for i in icbs),
        "activities": sum(i.count("activities") for i in icbs),
        "plan_items": sum(i.count("plan_items") for i in icbs),
        "largest_icb_members": max(len(i.members) for i in icbs),
        "self_assessments": sum(1 for o in orgs if self_assesses(o)),
        "self_assessment_answers": len(answers),
        "not_applicable_answers": sum(1 for a in answers if a.level is None),
        # The assets the submits write, one per answered level (beyond the generated assets).
        "self_assessment_records": sum(1 for a in answers if a.level is not None),
        "moderated_answers": sum(1 for a in answers if a.moderation is not None),
        "returns": len({(o.code, r.framework, r.year) for o in orgs for r in returns_of(o)}),
        "return_scores": len(returns),
    }


def ids(seed: str) -> uuid.UUID:
    """A stable id for a generated record (the COPY floor's ids)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lhs-national:{seed}")
