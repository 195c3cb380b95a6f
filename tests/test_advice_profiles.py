"""Advice an expert signs: each profile's top five, in the pure engine (no database, no clock).

The profiles and the reason for every expected recommendation are in tests/advice_profiles.py.
They run against the newest model version, whose rules carry the expert's review; the stored
2026.1 keeps its old meaning (test_advice_rules.py checks that a flag off changes nothing).
"""

from datetime import UTC, datetime

import pytest

from app.analysis import engine
from app.reference.service import highest_shipped, shipped_models
from tests.advice_profiles import PROFILES, AdviceProfile

MODEL = next(m for m in shipped_models() if m.version == highest_shipped())
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("case", PROFILES, ids=[p.name for p in PROFILES])
def test_an_expert_signs_the_top_five(case: AdviceProfile) -> None:
    analysis = engine.analyse(case.profile(), MODEL, generated_at=WHEN)
    top = analysis.recommendations[:5]
    assert {r.capability_key for r in top} == {e.key for e in case.top_five}, [
        (r.capability_key, r.priority_score) for r in analysis.recommendations[:8]
    ]
    steps = [r.getting_started_step for r in top if r.getting_started_step is not None]
    assert steps == sorted(steps), "Box 11 steps come in step order"
    # The first advice answers the getting-started list's next step when it is one of 1-4.
    nxt = analysis.getting_started.next_step
    if nxt is not None and nxt <= 4:
        assert top[0].getting_started_step == nxt


def test_every_expectation_says_why() -> None:
    for case in PROFILES:
        assert len(case.top_five) == 5, case.name
        assert len({e.key for e in case.top_five}) == 5, case.name
        for expectation in case.top_five:
            assert len(expectation.why) > 20, (case.name, expectation.key)
    assert len(PROFILES) >= 10
