"""The national benchmark's harness cannot rot: its smoke run generates a small ICB of the
national shape, loads it through the service's own paths into a real uvicorn (the imports,
returns included, and the questionnaire API's self-assessments and moderation), and measures
every national read on it, in seconds (SQLite)."""

import json
import os
import subprocess
import sys

import pytest

from app.config import PROJECT_ROOT
from bench import national_data

pytestmark = [pytest.mark.slow, pytest.mark.real_server]


def test_the_national_shape_is_englands() -> None:
    england = national_data.totals(national_data.generate(1.0))
    assert england["icbs"] == 42
    assert 8_000 <= england["organisations"] <= 8_500
    assert 280_000 <= england["assets"] <= 320_000
    assert 140_000 <= england["activities"] <= 160_000
    assert england["largest_icb_members"] > 300
    # About one organisation in ten answers the whole questionnaire; ICBs and trusts return.
    assert 750 <= england["self_assessments"] <= 1_000
    assert 20_000 <= england["self_assessment_answers"] <= 30_000
    assert 0 < england["not_applicable_answers"] < england["self_assessment_answers"] // 10
    assert 0 < england["moderated_answers"] < england["self_assessment_answers"]
    assert 42 + 210 <= england["returns"] <= 2 * (42 + 210) + 210
    assert england["return_scores"] > 10 * (42 + 210)
    # The same seed, the same country; a smaller scale keeps the first ICBs whole.
    assert national_data.totals(national_data.generate(1.0)) == england
    quarter = national_data.generate(0.25)
    assert [len(i.organisations) for i in quarter] == [
        len(i.organisations) for i in national_data.generate(1.0)[: len(quarter)]
    ]


def test_the_smoke_run_imports_the_shape_and_answers_every_national_read() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LHS_BENCH_DATABASE_URL"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "national", "--smoke", "--seconds", "0.2"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout)
    shape, created, data = results["shape"], results["import"]["rows_created"], results["data"]
    assert created["organisations"] == shape["organisations"] - 1  # the ICB is made first
    assert created["assets"] == shape["assets"]
    # A submitted self-assessment writes an asset per answered level.
    assert data["assets"] == shape["assets"] + shape["self_assessment_records"]
    assert created["activities"] == shape["activities"]
    for kind in ("self_assessments", "self_assessment_answers", "return_scores"):
        assert created[kind] == shape[kind] == data[kind] > 0, kind
    assert created["moderated_answers"] == shape["moderated_answers"] > 0
    assert results["import"]["seconds_by_kind"].keys() >= {
        "returns",
        "self_assessments",
        "moderation",
    }
    reads = results["reads"]
    for name in ("member_analysis", "system_view", "assets_page", "benchmark", "changes_page"):
        assert reads[name]["requests"] > 0, (name, reads[name])
        assert reads[name]["errors"] == 0, (name, reads[name])
    assert len(reads["member_analysis_cold"]["all_ms"]) == 2
