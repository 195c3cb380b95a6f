"""The self-assessment pages' form parsing: pure functions, no app."""

from typing import Any
from urllib.parse import urlencode

import pydantic
import pytest

from app.errors import BadRequest
from app.selfassessments import form_actions, forms
from app.selfassessments.forms import Area, Choice, Evidence, Question, Saved
from app.selfassessments.schemas import AnswerInput

LEVELS = tuple(Choice(str(n), f"Level {n}", f"words {n}") for n in range(5))
DATA = Question("data-sharing", "Data sharing", "How is data shared?", LEVELS)
NA = Question(
    "research",
    "Research",
    "",
    (*LEVELS, Choice(forms.NOT_APPLICABLE, "Not applicable here", "")),
)
AREA = Area("data", "Data", (DATA, NA))


def parse(**fields: Any) -> tuple[dict[str, forms.Posted], forms.Errors]:
    body = urlencode(fields, doseq=True).encode()
    return forms.parse_area(AREA, forms.fields_of(body))


def test_an_area_form_gives_each_questions_answer_and_ignores_strangers() -> None:
    posted, errors = parse(
        **{
            "level-data-sharing": "3",
            "comment-data-sharing": "  shared with the ICS  ",
            "evidence-title-data-sharing": ["DSA", ""],
            "evidence-url-data-sharing": ["https://example.org/dsa", ""],
            "level-research": "na",
            "level-not-a-question": "4",
        }
    )
    assert not errors
    assert set(posted) == {"data-sharing", "research"}
    assert posted["data-sharing"].value == "3"
    assert posted["data-sharing"].comment == "shared with the ICS"
    assert posted["data-sharing"].evidence == [Evidence("DSA", "https://example.org/dsa")]
    assert posted["research"].value == forms.NOT_APPLICABLE
    assert posted["research"].evidence == []


def test_an_empty_question_is_left_unanswered() -> None:
    posted, errors = parse(**{"comment-data-sharing": "", "evidence-title-research": ""})
    assert not errors
    assert posted["data-sharing"].empty
    assert posted["research"].empty


def test_what_is_wrong_is_said_in_words_by_the_field_it_is_about() -> None:
    posted, errors = parse(
        **{
            "comment-data-sharing": "we think so",
            "level-research": "7",
            "evidence-title-research": "Minutes",
            "evidence-url-research": "",
        }
    )
    assert errors.by_field == {
        forms.level_id("data-sharing"): "Choose a level for Data sharing, or clear its "
        "comment and evidence.",
        forms.level_id("research"): "Choose one of the answers offered for Research.",
        forms.evidence_id("research", 0, "url"): "Enter the address of Minutes.",
    }
    assert posted["research"].value is None


def test_not_applicable_only_where_the_question_offers_it() -> None:
    _, errors = parse(**{"level-data-sharing": "na"})
    assert list(errors.by_field) == [forms.level_id("data-sharing")]


def test_evidence_rows_show_what_was_posted_or_saved_and_one_spare() -> None:
    saved = Saved("2", evidence=(Evidence("A", "https://a.example"),))
    assert forms.evidence_rows(saved, None) == [
        Evidence("A", "https://a.example"),
        Evidence("", ""),
    ]
    posted = forms.Posted("2", "", [Evidence("B", "https://b.example")])
    assert forms.evidence_rows(saved, posted)[0] == Evidence("B", "https://b.example")
    assert forms.evidence_rows(None, None) == [Evidence("", "")]


def test_progress_counts_answered_questions_of_all() -> None:
    saved = {"data-sharing": Saved("1"), "research": Saved(None)}
    assert forms.progress([AREA], saved) == (1, 2)


def test_a_moderation_decision() -> None:
    def decide(**fields: str) -> tuple[forms.Decision, forms.Errors]:
        return forms.parse_decision(DATA, forms.fields_of(urlencode(fields).encode()))

    agreed, errors = decide(decision="agree", reason="")
    assert agreed == forms.Decision(agree=True, level=None, reason="")
    assert not errors
    changed, errors = decide(decision="change", level="2", reason="No signed DSA")
    assert changed == forms.Decision(agree=False, level=2, reason="No signed DSA")
    assert not errors
    _, errors = decide(decision="change", level="9")
    assert set(errors.by_field) == {
        forms.moderated_level_id("data-sharing"),
        forms.reason_id("data-sharing"),
    }
    # A digit to str.isdigit that int() refuses is a level not offered, not a crash.
    _, errors = decide(decision="change", level="\u00b2", reason="Two")
    assert set(errors.by_field) == {forms.moderated_level_id("data-sharing")}
    _, errors = decide()
    assert errors.by_field == {
        forms.decision_id("data-sharing"): "Choose whether you agree or change the level."
    }


def test_a_form_with_too_many_fields_is_a_bad_request() -> None:
    body = urlencode({f"x{i}": "1" for i in range(forms.MAX_FIELDS + 1)}).encode()
    with pytest.raises(BadRequest):
        forms.fields_of(body)
    assert len(forms.fields_of(urlencode({"a": "1", "b": ""}).encode())) == 2


def test_too_many_evidence_links_are_said_at_the_last_link() -> None:
    links = [Evidence(f"Link {n}", f"https://example.org/{n}") for n in range(21)]
    posted = forms.Posted("2", "", links, list(range(21)))
    with pytest.raises(pydantic.ValidationError) as refused:
        AnswerInput.model_validate(
            {"level": 2, "evidence": [{"title": e.title, "url": e.url} for e in links]}
        )
    errors = forms.Errors()
    form_actions.answer_errors(errors, DATA, posted, refused.value)
    assert list(errors.by_field) == [forms.evidence_id("data-sharing", 20, "url")]
