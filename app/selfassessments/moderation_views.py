"""The moderation page's content: every answer with who gave it, what a moderator decided, and
a decision form for each answer this moderator may decide (not their own, not 'not applicable')."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.auth.links import Link
from app.models import SelfAssessmentAnswer
from app.selfassessments import forms, render, views
from app.selfassessments import service as selfassessments
from app.vocabulary import ModerationDecision


def _answer_words(q: forms.Question, answer: SelfAssessmentAnswer) -> str:
    if answer.not_applicable:
        return views.NOT_APPLICABLE_WORDS
    choice = next(c for c in q.choices if c.value == str(answer.level))
    return f"{choice.label}: {choice.descriptor}"


def _moderation_words(answer: SelfAssessmentAnswer) -> str | None:
    if answer.moderation is None:
        return None
    who = answer.moderator_respondent or answer.moderated_by or "a moderator"
    when = f" on {answer.moderated_at:%d %B %Y}" if answer.moderated_at else ""
    if answer.moderation == ModerationDecision.AGREE:
        return f"Agreed by {who}{when}."
    return f"Changed to level {answer.moderated_level} by {who}{when}: {answer.moderation_reason}"


def moderation_page(
    request: Request,
    data: views.PageData,
    link: Link,
    *,
    saved: str | None = None,
    failed: str | None = None,
    decision: forms.Decision | None = None,
    errors: forms.Errors | None = None,
    status: int = 200,
) -> HTMLResponse:
    me = selfassessments.Author.of(link.principal(), link.respondent)
    areas: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for area in data.areas:
        area_rows = []
        for q in area.questions:
            answer = data.answer(q.key)
            if answer is None:
                continue
            own = selfassessments.Author(answer.answered_by, answer.respondent) == me
            mine = decision if failed == q.key else None
            row = {
                "question": q,
                "action": request.url_for(
                    "self-assessments-moderation-decide",
                    selfAssessmentId=data.id,
                    capabilityKey=q.key,
                ).path,
                "answer_words": _answer_words(q, answer),
                "answered_by": answer.respondent or answer.answered_by,
                "comment": answer.comment,
                "evidence": [forms.Evidence(e["title"], e["url"]) for e in answer.evidence],
                "moderation": _moderation_words(answer),
                "own": own,
                "open": data.submitted and not own and not answer.not_applicable,
                "failed": failed == q.key,
                "levels": [c for c in q.choices if c.value != forms.NOT_APPLICABLE],
                "posted_decision": (None if mine is None else "agree" if mine.agree else "change"),
                "posted_level": str(mine.level) if mine and mine.level is not None else None,
                "posted_reason": mine.reason if mine else "",
            }
            area_rows.append(row)
            rows.append(row)
        if area_rows:
            areas.append({"key": area.key, "title": area.title, "rows": area_rows})
    notice = None
    if saved and not errors:
        title = next((r["question"].title for r in rows if r["question"].key == saved), saved)
        notice = f"Your decision on {title} is saved."
    elif not data.submitted:
        notice = (
            "This self-assessment is not submitted yet: its answers can be moderated once it is."
        )
    return render.page(
        request,
        "moderation.html.j2",
        status=status,
        title="Moderate the answers",
        areas=areas,
        rows=rows,
        moderated=sum(1 for r in rows if r["moderation"]),
        errors=errors or forms.Errors(),
        notice=notice,
        **views.common(
            request, data, link, kind="Self-assessment moderation", role_words="Moderating as"
        ),
    )
