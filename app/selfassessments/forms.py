"""The self-assessment pages' forms, as plain data: what a page shows (areas, questions, the
answers saved so far) and what a posted form asks for. Pure: no HTTP, no database; the pages'
routes (``pages.py``) hand the parsed form to the self-assessment services, which validate it
as they validate the API's bodies.

Field names are the capability's key after a fixed prefix (``level-<key>``), so one area's
form carries every question of that area and nothing else is trusted: a name that is not one of
the area's questions is ignored.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from app.errors import BadRequest

NOT_APPLICABLE = "na"
LEVELS = range(5)
# Evidence rows a page offers beyond those saved: one more link per visit keeps the page short.
SPARE_EVIDENCE_ROWS = 1
# A form's size is bounded by the app's body limit; its fields by these, before any service.
MAX_FIELDS = 2_000


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer a question offers: a level (0-4) with the model's words, or not applicable."""

    value: str  # "0".."4" or NOT_APPLICABLE
    label: str
    descriptor: str
    evidence_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Saved:
    """An answer as the service holds it, in the page's terms."""

    value: str | None  # "0".."4", NOT_APPLICABLE, or None (not answered)
    comment: str = ""
    evidence: tuple[Evidence, ...] = ()
    answered_by: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    title: str
    text: str
    choices: tuple[Choice, ...]

    def allows(self, value: str) -> bool:
        return any(choice.value == value for choice in self.choices)


@dataclass(frozen=True, slots=True)
class Area:
    key: str
    title: str
    questions: tuple[Question, ...]


@dataclass(slots=True)
class Posted:
    """One question's part of a posted area form."""

    value: str | None
    comment: str
    evidence: list[Evidence] = field(default_factory=list)
    # The form row each evidence link came from (blank rows are skipped), for its errors.
    evidence_rows: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.value is None and not self.comment and not self.evidence


@dataclass(slots=True)
class Errors:
    """What a person must fix, by the id of the field it is about (each message in words)."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, field_id: str, message: str) -> None:
        self.by_field.setdefault(field_id, message)

    def __bool__(self) -> bool:
        return bool(self.by_field)


def fields_of(body: bytes) -> dict[str, list[str]]:
    """A urlencoded form's fields (every value of each name, blank ones kept). More than
    ``MAX_FIELDS`` is no form a page sends: a 400, not the parser's ValueError (a 500)."""
    try:
        return parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise BadRequest(
            f"The form has more than {MAX_FIELDS} fields; no page sends that many."
        ) from None


def first(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name)
    return values[0].strip() if values else ""


def level_id(key: str) -> str:
    """The id of a question's first radio button: where its error summary link lands."""
    return f"level-{key}-first"


def parse_area(area: Area, fields: Mapping[str, Sequence[str]]) -> tuple[dict[str, Posted], Errors]:
    """Each question's posted answer, and what is wrong with the form as a form (a value the
    question does not offer, a comment or evidence without a level, half an evidence link).
    Everything else, lengths and URL rules included, is the service's to check."""
    posted: dict[str, Posted] = {}
    errors = Errors()
    for question in area.questions:
        key = question.key
        value = first(fields, f"level-{key}") or None
        if value is not None and not question.allows(value):
            errors.add(level_id(key), f"Choose one of the answers offered for {question.title}.")
            value = None
        titles = fields.get(f"evidence-title-{key}", [])
        urls = fields.get(f"evidence-url-{key}", [])
        evidence: list[Evidence] = []
        rows: list[int] = []
        for index in range(max(len(titles), len(urls))):
            title = titles[index].strip() if index < len(titles) else ""
            url = urls[index].strip() if index < len(urls) else ""
            if title and not url:
                errors.add(evidence_id(key, index, "url"), f"Enter the address of {title}.")
            elif url and not title:
                errors.add(evidence_id(key, index, "title"), "Enter a title for this link.")
            elif title and url:
                evidence.append(Evidence(title=title, url=url))
                rows.append(index)
        answer = Posted(value, first(fields, f"comment-{key}"), evidence, rows)
        if value is None and not answer.empty and level_id(key) not in errors.by_field:
            errors.add(
                level_id(key),
                f"Choose a level for {question.title}, or clear its comment and evidence.",
            )
        posted[key] = answer
    return posted, errors


def evidence_id(key: str, index: int, part: str) -> str:
    return f"evidence-{part}-{key}-{index}"


def evidence_rows(saved: Saved | None, posted: Posted | None) -> list[Evidence]:
    """The evidence rows a question shows: what was posted (on an error) or saved, and a spare."""
    rows = list(posted.evidence if posted is not None else saved.evidence if saved else ())
    return rows + [Evidence(title="", url="")] * SPARE_EVIDENCE_ROWS


def progress(areas: Sequence[Area], saved: Mapping[str, Saved]) -> tuple[int, int]:
    """Questions answered, of all questions."""
    keys = [question.key for area in areas for question in area.questions]
    answered = sum(1 for key in keys if key in saved and saved[key].value is not None)
    return answered, len(keys)


@dataclass(frozen=True, slots=True)
class Decision:
    """A moderator's posted decision on one answer: agree, or change the level with a reason."""

    agree: bool
    level: int | None
    reason: str


def decision_id(key: str) -> str:
    return f"decision-{key}-agree"


def moderated_level_id(key: str) -> str:
    return f"moderated-level-{key}"


def reason_id(key: str) -> str:
    return f"reason-{key}"


def parse_decision(
    question: Question, fields: Mapping[str, Sequence[str]]
) -> tuple[Decision, Errors]:
    """The decision on ``question``'s answer. A changed level must be one of the question's
    levels; whether a reason is needed, and how long it may be, is the service's to say."""
    errors = Errors()
    choice = first(fields, "decision")
    reason = first(fields, "reason")
    level: int | None = None
    if choice not in ("agree", "change"):
        errors.add(decision_id(question.key), "Choose whether you agree or change the level.")
    elif choice == "change":
        raw = first(fields, "level")
        # The offered choices first: "²" is a digit to str.isdigit but not to int().
        if question.allows(raw) and raw.isdigit() and int(raw) in LEVELS:
            level = int(raw)
        else:
            errors.add(moderated_level_id(question.key), "Choose the level you would give.")
        if not reason:
            errors.add(reason_id(question.key), "Say why you changed the level.")
    return Decision(agree=choice == "agree", level=level, reason=reason), errors
