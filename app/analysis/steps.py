"""Box 11's eight getting-started steps and the LHS learning cycle, read off the records.

A step is done when a capability citing it (``sources.box11Step``) is at least developing, or
when the records show it directly (rules below; the model's rules choose the basic or the
strict set). The learning cycle (practice -> data -> knowledge -> practice) is the general one
of the LHS literature, not HDR UK's Better Care Loop, which is about analytics tools.
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
from app.reference.rules import GettingStartedRules, Rules
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


def _strict_rules(current: Mapping[str, State]) -> dict[int, Callable[[Profile], str | None]]:
    """Stronger proxies: any project is not a care problem found, nor a stored snapshot a plan."""

    def care_problem(p: Profile) -> str | None:
        return "an improvement or research activity with a goal" if p.improvement_goals else None

    def planned(p: Profile) -> str | None:
        weak = sorted(
            k for k in p.planned_keys if k in current and current[k].status != GapStatus.MET
        )
        return f"development planned for {', '.join(weak)}" if weak else None

    return RECORD_RULES | {1: care_problem, 6: planned}


# Under the strict rules a step needs the one before it: a near-term goal within an ambition
# not yet agreed (7 before 3) is not Box 11's step 7.
NEEDS_STEP = {7: 3, 8: 7}
STARTING_STEPS = range(1, 5)


def _consistent(
    profile: Profile, capabilities: Sequence[Capability], current: Mapping[str, State]
) -> GettingStarted:
    """A step that capabilities cite is done exactly when those that apply are met: only
    records that are that step show it (an analysts' network is not Box 11's learning
    community, nor recruiting to a national trial a care priority agreed locally), so a step
    and its capability never disagree. Steps 5 and 6, which no capability is, keep the
    strict record rules."""
    record_rules = _strict_rules(current)
    steps = []
    for step, title in STEP_TITLES.items():
        citing = [
            c.key
            for c in capabilities
            if any(s.box11_step == step for s in c.sources) and current[c.key].applicable
        ]
        if citing:
            unmet = [k for k in citing if current[k].status != GapStatus.MET]
            done = not unmet
            evidence = (
                [f"capability {k} met" for k in citing]
                if done
                else [f"not yet: capability {k} is {current[k].status.value}" for k in unmet]
            )
        else:
            rule = record_rules.get(step)
            shown = rule(profile) if rule else None
            done, evidence = bool(shown), [shown] if shown else []
        steps.append(GettingStartedStep(step=step, title=title, done=done, evidence=evidence))
    next_step = next((s.step for s in steps if not s.done), None)
    return GettingStarted(steps=steps, next_step=next_step)


def getting_started(
    profile: Profile,
    capabilities: Sequence[Capability],
    current: Mapping[str, State],
    rules: Rules | None = None,
) -> GettingStarted:
    if rules is not None and rules.getting_started == GettingStartedRules.CONSISTENT:
        return _consistent(profile, capabilities, current)
    strict = rules is not None and rules.getting_started == GettingStartedRules.STRICT
    record_rules = _strict_rules(current) if strict else RECORD_RULES
    steps: dict[int, GettingStartedStep] = {}
    for step, title in STEP_TITLES.items():
        evidence = [
            f"capability {c.key} at maturity {current[c.key].current}"
            for c in capabilities
            if any(s.box11_step == step for s in c.sources) and current[c.key].current >= DEVELOPING
        ]
        rule = record_rules.get(step)
        shown = rule(profile) if rule else None
        if shown:
            evidence.append(shown)
        done = bool(evidence)
        before = NEEDS_STEP.get(step)
        if strict and before is not None and not steps[before].done:
            done = False
            evidence.append(f"waits for step {before}")
        steps[step] = GettingStartedStep(step=step, title=title, done=done, evidence=evidence)
    next_step = next((s.step for s in steps.values() if not s.done), None)
    return GettingStarted(steps=list(steps.values()), next_step=next_step)


def starting_steps(started: GettingStarted) -> set[int]:
    """Box 11 steps 1-4 not yet taken: what a near-empty organisation starts with."""
    return {s.step for s in started.steps if s.step in STARTING_STEPS and not s.done}


STAGE_MEANING = {
    LoopStage.PRACTICE_TO_DATA: "capturing data from practice",
    LoopStage.DATA_TO_KNOWLEDGE: "turning data into knowledge",
    LoopStage.KNOWLEDGE_TO_PRACTICE: "feeding knowledge back into practice",
}


def learning_loop(capabilities: Sequence[Capability], current: Mapping[str, State]) -> LearningLoop:
    """A link is in place when a capability at its stage that can close it is met: tools alone
    (closesLink false) do not carry knowledge into practice; people and improvement do."""
    links = []
    for stage, meaning in STAGE_MEANING.items():
        here = [c for c in capabilities if c.loop_stage == stage and current[c.key].applicable]
        at_stage = [c.key for c in here]
        met = [k for k in at_stage if current[k].status == GapStatus.MET]
        closing = [c.key for c in here if c.closes_link and c.key in met]
        unmet = [k for k in at_stage if k not in met]
        if closing:
            status = LinkStatus.IN_PLACE
            explanation = f"In place: {meaning} through {', '.join(met)}."
        elif met:
            status = LinkStatus.WEAK
            people = [c.key for c in here if c.closes_link]
            explanation = (
                f"Weak: tools are in place for {meaning} ({', '.join(met)}), but tools alone "
                f"do not close it: people and improvement capability do. Build one of: "
                f"{', '.join(people)}."
            )
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
