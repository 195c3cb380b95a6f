"""Box 11's eight getting-started steps and HDR UK's Better Care Loop, read off the records.

A step is done when a capability citing it (``sources.box11Step``) is at least developing, or
when the records show it directly (rules below). The loop's links are its three stages.
"""

from collections.abc import Callable, Mapping, Sequence

from app.analysis.profile import Profile, State
from app.analysis.schemas import (
    GapStatus,
    GettingStarted,
    GettingStartedStep,
    LearningLoop,
    LinkStatus,
    LoopLink,
)
from app.reference.schemas import Capability
from app.vocabulary import ActivityType, Area, LoopStage

STEP_TITLES = {
    1: "Find where care needs improving and the work and people already involved",
    2: "Convene a diverse learning community, including service users",
    3: "Agree an improvement ambition",
    4: "Secure senior and board-level support",
    5: "Map the assets and improvement activity already in place",
    6: "Identify missing or weak assets and plan their development",
    7: "Choose a near-term goal within the ambition",
    8: "Plan the data collection and improvement activities for that goal",
}
DEVELOPING = 2


def _record_rules() -> dict[int, Callable[[Profile], str | None]]:
    """What in the records shows a step, beyond the capabilities that cite it."""

    def improvement_work(p: Profile) -> str | None:
        found = p.activity_types & {ActivityType.IMPROVEMENT_PROJECT, ActivityType.RESEARCH}
        return "improvement or research activity recorded" if found else None

    def community(p: Profile) -> str | None:
        return "a learning community is running" if p.running_learning_communities else None

    def mapped(p: Profile) -> str | None:
        return "records in all four areas" if p.areas_recorded >= set(Area) else None

    def planned(p: Profile) -> str | None:
        if p.assessments:
            return f"{p.assessments} gap assessment(s) stored"
        return f"{p.planned_assets} asset(s) planned" if p.planned_assets else None

    def goal(p: Profile) -> str | None:
        return "an activity with a goal is planned or active" if p.goals_in_progress else None

    def plan(p: Profile) -> str | None:
        needed = {ActivityType.DATA_COLLECTION, ActivityType.IMPROVEMENT_PROJECT}
        return (
            "data collection and improvement activities recorded"
            if needed <= p.activity_types
            else None
        )

    return {1: improvement_work, 2: community, 5: mapped, 6: planned, 7: goal, 8: plan}


RECORD_RULES = _record_rules()


def getting_started(
    profile: Profile, capabilities: Sequence[Capability], current: Mapping[str, State]
) -> GettingStarted:
    steps = []
    for step, title in STEP_TITLES.items():
        evidence = [
            f"capability {c.key} at maturity {current[c.key].current}"
            for c in capabilities
            if any(s.box11_step == step for s in c.sources) and current[c.key].current >= DEVELOPING
        ]
        rule = RECORD_RULES.get(step)
        shown = rule(profile) if rule else None
        if shown:
            evidence.append(shown)
        steps.append(
            GettingStartedStep(step=step, title=title, done=bool(evidence), evidence=evidence)
        )
    next_step = next((s.step for s in steps if not s.done), None)
    return GettingStarted(steps=steps, next_step=next_step)


STAGE_MEANING = {
    LoopStage.PRACTICE_TO_DATA: "capturing data from practice",
    LoopStage.DATA_TO_KNOWLEDGE: "turning data into knowledge",
    LoopStage.KNOWLEDGE_TO_PRACTICE: "feeding knowledge back into practice",
}


def learning_loop(capabilities: Sequence[Capability], current: Mapping[str, State]) -> LearningLoop:
    links = []
    for stage, meaning in STAGE_MEANING.items():
        at_stage = [c.key for c in capabilities if c.loop_stage == stage]
        met = [k for k in at_stage if current[k].status == GapStatus.MET]
        unmet = [k for k in at_stage if k not in met]
        if met:
            status = LinkStatus.IN_PLACE
            explanation = f"In place: {meaning} through {', '.join(met)}."
        elif any(current[k].current > 0 for k in at_stage):
            status = LinkStatus.WEAK
            explanation = f"Weak: {meaning} has started but nothing is at target yet."
        else:
            status = LinkStatus.BROKEN
            explanation = (
                f"Broken: nothing is credited for {meaning} (not even planned), so the loop "
                f"cannot close here. Build one of: {', '.join(unmet)}."
            )
        links.append(
            LoopLink(
                stage=stage,
                status=status,
                capabilities_met=met,
                capabilities_unmet=unmet,
                explanation=explanation,
            )
        )
    broken = [link.stage for link in links if link.status != LinkStatus.IN_PLACE]
    return LearningLoop(closed=not broken, links=links, broken_links=broken)
