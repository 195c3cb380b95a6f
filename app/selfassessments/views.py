"""What the self-assessment pages show and send: the service's self-assessment and questionnaire
turned into the forms' plain data, and a posted form turned into the service's inputs (its
errors back into words next to the field). The services decide; this only translates."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.auth import access, browser
from app.auth.links import Link
from app.auth.principal import Principal
from app.db import ReadContext
from app.errors import NotFound
from app.http.preconditions import etag
from app.models import SelfAssessmentAnswer
from app.questionnaire import service as questionnaire
from app.selfassessments import forms, render
from app.selfassessments import service as selfassessments
from app.vocabulary import SelfAssessmentStatus

NOT_APPLICABLE_WORDS = "Not applicable here"


@dataclass(frozen=True)
class PageData:
    view: selfassessments.SelfAssessmentView
    organisation: str
    areas: list[forms.Area]
    saved: dict[str, forms.Saved]

    @property
    def id(self) -> uuid.UUID:
        return self.view.id

    @property
    def organisation_id(self) -> uuid.UUID:
        return self.view.self_assessment.organisation_id

    @property
    def submitted(self) -> bool:
        return self.view.self_assessment.status != SelfAssessmentStatus.DRAFT

    def answer(self, key: str) -> SelfAssessmentAnswer | None:
        return next((a for a in self.view.answers if a.capability_key == key), None)


async def load(reads: ReadContext, principal: Principal, self_assessment_id: uuid.UUID) -> PageData:
    """The self-assessment as ``principal`` may read it (the service's tenancy), with its
    questionnaire and its organisation's name."""
    view = await selfassessments.get(reads, self_assessment_id, principal=principal)
    organisation = await access.organisation(reads, principal, view.self_assessment.organisation_id)
    built = questionnaire.build(view.model, view.organisation_type)
    areas = [
        forms.Area(
            key=area.area.value,
            title=area.title,
            questions=tuple(
                forms.Question(
                    key=q.capability_key,
                    title=q.title,
                    text=q.description,
                    choices=tuple(
                        forms.Choice(
                            str(a.level), f"{a.level}: {a.label}", a.descriptor, a.evidence_prompt
                        )
                        for a in q.answers
                    )
                    + (
                        (
                            forms.Choice(
                                forms.NOT_APPLICABLE,
                                NOT_APPLICABLE_WORDS,
                                "This does not apply to our organisation.",
                            ),
                        )
                        if q.not_applicable_allowed
                        else ()
                    ),
                )
                for q in area.questions
            ),
        )
        for area in built.areas
    ]
    saved = {a.capability_key: _saved(a) for a in view.answers}
    return PageData(view=view, organisation=str(organisation["name"]), areas=areas, saved=saved)


def _saved(answer: SelfAssessmentAnswer) -> forms.Saved:
    value = forms.NOT_APPLICABLE if answer.not_applicable else str(answer.level)
    return forms.Saved(
        value=value,
        comment=answer.comment or "",
        evidence=tuple(forms.Evidence(e["title"], e["url"]) for e in answer.evidence),
        answered_by=_person(answer.respondent, answer.answered_by),
    )


def _person(respondent: str | None, credential: str) -> str:
    return respondent or credential


def area_at(data: PageData, number: int) -> forms.Area:
    if not 1 <= number <= len(data.areas):
        raise NotFound(f"The questionnaire has {len(data.areas)} areas; there is no area {number}.")
    return data.areas[number - 1]


def question(data: PageData, key: str) -> forms.Question:
    for area in data.areas:
        for q in area.questions:
            if q.key == key:
                return q
    raise NotFound(f"The questionnaire has no question {key!r}.")


# -- Addresses ---------------------------------------------------------------------------------


def area_href(request: Request, self_assessment_id: uuid.UUID, number: int) -> str:
    return request.url_for(
        "self-assessments-questionnaire-area", selfAssessmentId=self_assessment_id, number=number
    ).path


def submit_href(request: Request, self_assessment_id: uuid.UUID) -> str:
    return request.url_for(
        "self-assessments-questionnaire-submit", selfAssessmentId=self_assessment_id
    ).path


def moderation_href(request: Request, self_assessment_id: uuid.UUID) -> str:
    return request.url_for("self-assessments-moderation", selfAssessmentId=self_assessment_id).path


# -- Pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str
    href: str
    current: bool
    count: str


def _steps(request: Request, data: PageData, current: int | None) -> list[Step]:
    steps = []
    for number, area in enumerate(data.areas, start=1):
        answered = sum(1 for q in area.questions if q.key in data.saved)
        steps.append(
            Step(
                area.title,
                area_href(request, data.id, number),
                number == current,
                f"{answered} of {len(area.questions)} answered",
            )
        )
    title = "Check and submit" if not data.submitted else "Submitted"
    steps.append(Step(title, submit_href(request, data.id), current is None, ""))
    return steps


def common(
    request: Request, data: PageData, link: Link, *, kind: str, role_words: str
) -> dict[str, Any]:
    answered, total = forms.progress(data.areas, data.saved)
    return {
        "page": {
            "kind_title": kind,
            "organisation": data.organisation,
            "model_version": data.view.model.version,
            "respondent": link.respondent or "(no name on the link)",
            "role_words": role_words,
        },
        "access_form": browser.access_form(request),
        "csrf": browser.csrf_token(request),
        "answered": answered,
        "total": total,
    }


def area_page(
    request: Request,
    data: PageData,
    link: Link,
    *,
    number: int,
    posted: Mapping[str, forms.Posted] | None = None,
    errors: forms.Errors | None = None,
    status: int = 200,
) -> HTMLResponse:
    area = area_at(data, number)
    questions = []
    for q in area.questions:
        saved = data.saved.get(q.key)
        mine = posted.get(q.key) if posted is not None else None
        questions.append(
            {
                "question": q,
                "saved": saved,
                "value": mine.value if mine is not None else saved.value if saved else None,
                "comment": mine.comment if mine is not None else saved.comment if saved else "",
                "evidence": forms.evidence_rows(saved, mine),
            }
        )
    saved_notice = request.query_params.get("saved") == "1" and not errors
    return render.page(
        request,
        "area.html.j2",
        status=status,
        title=f"{area.title} (area {number} of {len(data.areas)})",
        area=area,
        area_number=number,
        area_total=len(data.areas),
        questions=questions,
        steps=_steps(request, data, number),
        action=area_href(request, data.id, number),
        next_words="Save and continue"
        if number < len(data.areas)
        else "Save and check your answers",
        errors=errors or forms.Errors(),
        notice="Your answers in this area are saved." if saved_notice else None,
        **common(
            request, data, link, kind="Self-assessment questionnaire", role_words="Answering as"
        ),
    )


def submit_page(
    request: Request,
    data: PageData,
    link: Link,
    *,
    errors: forms.Errors | None = None,
    status: int = 200,
) -> HTMLResponse:
    row = data.view.self_assessment
    return render.page(
        request,
        "submit.html.j2",
        status=status,
        title="Submitted" if data.submitted else "Check and submit",
        submitted=data.submitted,
        submitted_at=f"{row.submitted_at:%d %B %Y}" if row.submitted_at else None,
        steps=_steps(request, data, None),
        action=submit_href(request, data.id),
        etag=etag(row.version),
        errors=errors or forms.Errors(),
        notice=None,
        **common(
            request, data, link, kind="Self-assessment questionnaire", role_words="Answering as"
        ),
    )
