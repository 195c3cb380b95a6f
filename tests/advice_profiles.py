"""Organisation profiles an LHS lead would recognise, each with the top five recommendations
they would sign as first advice, and why (tests/test_advice_profiles.py runs them).

Every expectation cites the rule it rests on (docs/gap-analysis.md, "Advice an expert signs")
or the source chapter (Box 11, Table 3/4, a recommendation). The profiles are plain engine
inputs: no database, no clock. A top five is compared as a set: an expert signs the five, and
the order among Box 11's steps is checked on its own (steps come in step order).
"""

import uuid
from dataclasses import dataclass, field

from app.analysis.profile import Claim, Profile
from app.analysis.schemas import OrganisationRef
from app.vocabulary import ActivityType, CapabilityKind, Confidence, OrganisationType

_T = OrganisationType


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


ORG_ID = _id(1)


def proven(key: str, n: int, maturity: int = 3, *, owner: uuid.UUID = ORG_ID) -> Claim:
    """An asset recorded with an evidence link (and a reviewer): credited as recorded."""
    return Claim(
        key,
        maturity,
        Confidence.EVIDENCED,
        CapabilityKind.ASSET,
        owner,
        _id(n),
        f"{key} {n}",
        evidence_links=1,
        reviewed=True,
    )


def inherited(key: str, n: int, maturity: int = 3) -> Claim:
    """An evidenced asset shared with members by an organisation above."""
    return Claim(
        key,
        maturity,
        Confidence.EVIDENCED,
        CapabilityKind.ASSET,
        _id(999),
        _id(n),
        f"{key} {n} (shared from above)",
        inherited=True,
        evidence_links=1,
        reviewed=True,
    )


def self_rated(key: str, n: int, maturity: int) -> Claim:
    return Claim(
        key, maturity, Confidence.SELF_ASSESSED, CapabilityKind.ASSET, ORG_ID, _id(n), f"{key} {n}"
    )


def done(key: str, n: int) -> Claim:
    """An active or completed activity with an outcome: credited 3."""
    return Claim(
        key, 3, None, CapabilityKind.ACTIVITY, ORG_ID, _id(n), f"{key} {n}", has_outcome=True
    )


def started(key: str, n: int) -> Claim:
    """An active activity with no outcome yet: credited at most 2."""
    return Claim(key, 3, None, CapabilityKind.ACTIVITY, ORG_ID, _id(n), f"{key} {n}")


@dataclass(frozen=True)
class Expectation:
    key: str
    why: str


@dataclass(frozen=True)
class AdviceProfile:
    name: str
    kind: OrganisationType
    claims: tuple[Claim, ...]
    top_five: tuple[Expectation, ...]
    extra: dict[str, object] = field(default_factory=dict)

    def profile(self) -> Profile:
        return Profile(
            organisation=OrganisationRef(id=ORG_ID, name=self.name),
            claims=self.claims,
            organisation_type=self.kind,
            **self.extra,  # type: ignore[arg-type]
        )


E = Expectation
STEP1 = E(
    "care-improvement-priorities",
    "Box 11 step 1 comes first while where care needs improving is not known (rule 2: only a "
    "record of that step shows it).",
)
STEP2_COMMUNITY = E(
    "learning-community",
    "Box 11 step 2: convene a learning community; an analysts' network is not one (rule 2).",
)
STEP2_VOICE = E(
    "service-user-voice", "Box 11 step 2: the learning community includes service users."
)
STEP3 = E("improvement-ambition", "Box 11 step 3: agree an improvement ambition.")
STEP4 = E(
    "senior-learning-leadership",
    "Box 11 step 4: senior and board-level support (Table 4 row 7, recommendation 6).",
)

PROFILES: tuple[AdviceProfile, ...] = (
    AdviceProfile(
        "Ambulance trust, data-rich, recruiting to a national trial",
        _T.AMBULANCE_TRUST,
        (
            proven("digital-infrastructure", 10),
            proven("data-platform", 11),
            proven("analytics-workforce", 12),
            # Analysts meet in a regional network: an analysts' community of practice, not the
            # multidisciplinary learning community of Box 11 step 2.
            done("analyst-community-of-practice", 13),
            proven("senior-learning-leadership", 14),
            proven("information-governance", 15),
        ),
        (
            STEP1,
            STEP2_COMMUNITY,
            STEP2_VOICE,
            STEP3,
            E(
                "improvement-capability",
                "Table 4 row 3 (67 %) and recommendation 8: a data-rich trust needs people "
                "to act on what its analysts find; it also unlocks front-line support.",
            ),
        ),
        {
            # A national trial: research with a goal, but not care priorities agreed locally.
            "activity_types": frozenset({ActivityType.RESEARCH}),
            "improvement_goals": 1,
            "goals_in_progress": 1,
            "running_learning_communities": 1,
        },
    ),
    AdviceProfile(
        "Community trust with an honest, evidenced weakness",
        _T.COMMUNITY_TRUST,
        (
            done("care-improvement-priorities", 10),
            done("learning-community", 11),
            done("service-user-voice", 12),
            done("improvement-ambition", 13),
            proven("senior-learning-leadership", 14),
            # Measured and evidenced: interoperability is at 1 of 3 (rule 1).
            proven("interoperable-data-sharing", 15, maturity=1),
            proven("digital-infrastructure", 16),
            proven("learning-culture", 17),
            proven("protected-improvement-time", 18, maturity=2),
        ),
        (
            E(
                "interoperable-data-sharing",
                "Rule 1: an evidenced weakness (1 of 3) never ranks below silence; community "
                "services depend on data moving between providers (recommendation 4).",
            ),
            E(
                "protected-improvement-time",
                "Rule 1: evidenced at 2 of 3; Table 4 row 4 (60 %), recommendation 7.",
            ),
            E(
                "improvement-capability",
                "Table 4 row 3 (67 %), the largest weighted gap left, and it enables "
                "front-line support and incentives.",
            ),
            E(
                "frontline-improvement-support",
                "Table 4 row 2 (68 %), recommendation 7: front-line teams implement.",
            ),
            E(
                "lhs-narrative-and-strategy",
                "Table 4 row 6 (58 %): a strategy for the LHS, and staff support follows it.",
            ),
        ),
    ),
    AdviceProfile(
        "Voluntary-sector hospice, small and starting out",
        _T.VOLUNTARY_SECTOR,
        (proven("learning-culture", 10), done("service-user-voice", 11)),
        (
            STEP1,
            STEP2_COMMUNITY,
            E(
                "service-user-voice",
                "Box 11 step 2: its carers' forum counts once a learning community exists "
                "(a hard prerequisite holds it back, rule 3).",
            ),
            STEP3,
            STEP4,
        ),
    ),
    AdviceProfile(
        "New ICB, nothing recorded yet",
        _T.ICB,
        (),
        (STEP1, STEP2_COMMUNITY, STEP2_VOICE, STEP3, STEP4),
    ),
    AdviceProfile(
        "Research-active GP practice",
        _T.GP_PRACTICE,
        (
            done("care-improvement-priorities", 10),
            done("research-and-delivery-together", 11),
            proven("in-house-research-expertise", 12),
            done("evidence-base-contribution", 13),
            proven("digital-infrastructure", 14),
            proven("senior-learning-leadership", 15),
        ),
        (
            STEP2_COMMUNITY,
            STEP2_VOICE,
            STEP3,
            E(
                "improvement-capability",
                "Table 4 row 3 (67 %), recommendation 8: research alone does not implement "
                "improvements; it also enables front-line support.",
            ),
            E(
                "learning-culture",
                "Table 4 row 1 (70 %), recommendation 6: the survey's first organisational "
                "action, with nothing recorded for it.",
            ),
        ),
        {"activity_types": frozenset({ActivityType.RESEARCH, ActivityType.IMPROVEMENT_PROJECT})},
    ),
    AdviceProfile(
        "Mature acute teaching trust with two known weaknesses",
        _T.ACUTE_TRUST,
        (
            *(
                proven(key, n)
                for n, key in enumerate(
                    (
                        "digital-infrastructure",
                        "data-platform",
                        "information-governance",
                        "analytics-workforce",
                        "senior-learning-leadership",
                        "learning-culture",
                        "improvement-capability",
                        "in-house-research-expertise",
                        "lhs-narrative-and-strategy",
                        "protected-improvement-time",
                        "interoperable-data-sharing",
                        "leadership-at-all-levels",
                    ),
                    start=10,
                )
            ),
            *(
                done(key, n)
                for n, key in enumerate(
                    (
                        "care-improvement-priorities",
                        "learning-community",
                        "service-user-voice",
                        "improvement-ambition",
                        "frontline-improvement-support",
                        "research-and-delivery-together",
                        "analyst-community-of-practice",
                        "digital-skills",
                        "technology-implementation",
                        "improvement-data-collection",
                        "staff-support-for-lhs",
                        "lhs-evaluation",
                        "professional-networks",
                    ),
                    start=40,
                )
            ),
            proven("decision-support-tools", 60, maturity=1),
            started("inclusive-participation", 61),
        ),
        (
            E(
                "decision-support-tools",
                "Rule 1: evidenced at 1 of 3, a known weakness (recommendation 2).",
            ),
            E(
                "inclusive-participation",
                "Rule 1: under way but unproven (credited 2): a known gap; Table 3 row 10.",
            ),
            E(
                "technology-evaluation",
                "Nothing recorded: Table 3 row 6 (48 %), the highest tie-break left.",
            ),
            E("evidence-base-contribution", "Table 3 row 11 (43 %), recommendation 1."),
            E("improvement-incentives", "Table 3 row 9 (44 %), the local part of incentives."),
        ),
        {"activity_types": frozenset({ActivityType.IMPROVEMENT_PROJECT})},
    ),
)

MORE: tuple[AdviceProfile, ...] = (
    AdviceProfile(
        "Mental health trust, strong communities, self-rated data",
        _T.MENTAL_HEALTH_TRUST,
        (
            done("care-improvement-priorities", 10),
            done("learning-community", 11),
            done("service-user-voice", 12),
            done("improvement-ambition", 13),
            proven("senior-learning-leadership", 14),
            proven("learning-culture", 15),
            done("inclusive-participation", 16),
            # Rated "embedded" by the trust itself: a gap in proof, not a known weakness.
            self_rated("digital-infrastructure", 17, 4),
            self_rated("data-platform", 18, 4),
        ),
        (
            E("frontline-improvement-support", "Table 4 row 2 (68 %), recommendation 7."),
            E(
                "improvement-capability",
                "Table 4 row 3 (67 %), recommendation 8; enables front-line support.",
            ),
            E("protected-improvement-time", "Table 4 row 4 (60 %), recommendation 7."),
            E(
                "lhs-narrative-and-strategy",
                "Table 4 row 6 (58 %): a strategy that puts the communities' learning at the "
                "centre; staff support follows it.",
            ),
            E(
                "research-and-delivery-together",
                "Table 4 row 8 (45 %): its learning communities are in place, so research "
                "and analysis can join delivery; self-rated platforms (rule 1: a gap in proof, "
                "not a known weakness) wait.",
            ),
        ),
        {"activity_types": frozenset({ActivityType.IMPROVEMENT_PROJECT})},
    ),
    AdviceProfile(
        "Small district general hospital",
        _T.ACUTE_TRUST,
        (
            done("care-improvement-priorities", 10),
            proven("senior-learning-leadership", 11),
            self_rated("digital-infrastructure", 12, 3),
            # Its QI team, reviewed by a neighbouring trust: honestly "developing".
            Claim(
                "improvement-capability",
                2,
                Confidence.PEER_REVIEWED,
                CapabilityKind.ASSET,
                ORG_ID,
                _id(13),
                "QI team",
                reviewed=True,
            ),
        ),
        (
            STEP2_COMMUNITY,
            STEP2_VOICE,
            STEP3,
            E(
                "improvement-capability",
                "Rule 1: peer reviewed at 2 of 3, a known weakness; Table 4 row 3 (67 %).",
            ),
            E(
                "learning-culture",
                "Table 4 row 1 (70 %): the survey's first organisational action.",
            ),
        ),
        {"activity_types": frozenset({ActivityType.IMPROVEMENT_PROJECT})},
    ),
    AdviceProfile(
        "Primary care network past its first two steps",
        _T.PRIMARY_CARE_NETWORK,
        (
            done("care-improvement-priorities", 10),
            done("learning-community", 11),
            done("service-user-voice", 12),
            started("improvement-ambition", 13),
        ),
        (
            E(
                "improvement-ambition",
                "Box 11 step 3: being agreed but not yet shown (credited 2): finish it.",
            ),
            STEP4,
            E("learning-culture", "Table 4 row 1 (70 %), recommendation 6."),
            E("frontline-improvement-support", "Table 4 row 2 (68 %), recommendation 7."),
            E(
                "improvement-capability",
                "Table 4 row 3 (67 %): a network's shared improvement capability.",
            ),
        ),
        {"activity_types": frozenset({ActivityType.IMPROVEMENT_PROJECT})},
    ),
    AdviceProfile(
        "Acute trust inside an ICS whose shared assets include a DSPT return",
        _T.ACUTE_TRUST,
        (
            done("care-improvement-priorities", 10),
            done("learning-community", 11),
            done("service-user-voice", 12),
            done("improvement-ambition", 13),
            proven("senior-learning-leadership", 14),
            proven("learning-culture", 15),
            proven("improvement-capability", 16),
            done("frontline-improvement-support", 17),
            proven("protected-improvement-time", 18),
            proven("lhs-narrative-and-strategy", 19),
            # The ICB shares its platform and its own data-security return with members.
            inherited("data-platform", 20),
            inherited("information-governance", 21),
            proven("digital-infrastructure", 22),
        ),
        (
            E(
                "research-and-delivery-together",
                "Table 4 row 8 (45 %), recommendation 8: the largest organisational action left.",
            ),
            E("staff-support-for-lhs", "Table 4 row 9 (41 %), recommendation 6."),
            E(
                "lhs-evaluation",
                "Table 4 row 10 (34 %); it leads to contributing to the evidence base.",
            ),
            E(
                "analytics-workforce",
                "Table 3 row 4 (57 %) breaks the tie at 0.30: the shared platform needs "
                "analysts (recommendation 3).",
            ),
            E(
                "improvement-data-collection",
                "Box 11 step 8: measures for each goal, which evaluation needs.",
            ),
        ),
        {"activity_types": frozenset({ActivityType.IMPROVEMENT_PROJECT})},
    ),
)
PROFILES = PROFILES + MORE
