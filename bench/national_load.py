"""Loading the national data set two ways: through the service's own paths over HTTP (as each
ICB's programme team would: its organisations, then one sheet each of assets, activities and
plan items for all its members; then each organisation's returns through the same imports, its
self-assessment through the questionnaire API, and the ICB's moderation of some answers), and
a floor that COPYs the same rows into the same tables with the driver."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from app.audit.service import diff
from bench import national_data as nd
from bench.dataset import migrate_fresh
from bench.memory import resident_bytes

IMPORT_TIMEOUT = 600.0
CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
KINDS = ("organisations", "assets", "activities", "plan_items")
# Timed as kinds of their own after the files: each organisation's returns (an import per
# organisation and framework), its self-assessment (opened, answered a question at a time, as
# the API has no bulk answer, and submitted) and the ICB's moderation of some answers.
LATER = ("returns", "self_assessments", "moderation")


class RssSampler:
    """The server's resident memory (all its processes), sampled until stopped."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.before = self.peak = resident_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, resident_bytes(self.pid))
            time.sleep(self.every)

    @contextmanager
    def running(self) -> Iterator["RssSampler"]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join()
            self.after = resident_bytes(self.pid)

    def as_json(self) -> dict[str, float]:
        mb = 2**20
        return {
            "before_mb": round(self.before / mb, 1),
            "peak_mb": round(self.peak / mb, 1),
            "after_mb": round(self.after / mb, 1),
            "growth_mb": round((self.peak - self.before) / mb, 1),
        }


def _post(client: httpx.Client, path: str, body: bytes, headers: dict[str, str]) -> Any:
    answer = client.post(path, content=body, headers=headers)
    if answer.status_code >= 300:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:2000]}")
    return answer.json()


@dataclass
class _Later:
    """An ICB's returns and self-assessments as request bodies, made before the clock."""

    returns: list[tuple[str, str, bytes]] = field(default_factory=list)  # code, kind, file
    answers: list[tuple[str, list[tuple[str, bytes]]]] = field(default_factory=list)
    moderations: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)


def _later(icb: nd.Icb) -> _Later:
    later = _Later()
    for org in icb.organisations:
        returns = nd.returns_of(org)
        for framework in sorted({r.framework for r in returns}):
            later.returns.append((org.code, framework, nd.return_csv(framework, returns)))
        answers = nd.answers_of(org)
        if not answers:
            continue
        later.answers.append((org.code, [(a.key, _answer_body(a)) for a in answers]))
        moderations = [(a.key, _moderation_body(a)) for a in answers if a.moderation]
        if moderations:
            later.moderations[org.code] = moderations
    return later


def _answer_body(answer: nd.AnswerRow) -> bytes:
    body: dict[str, Any] = (
        {"level": answer.level} if answer.level is not None else {"notApplicable": True}
    )
    if answer.comment:
        body["comment"] = answer.comment
    if answer.evidence:
        body["evidence"] = [{"title": t, "url": u} for t, u in answer.evidence]
    return json.dumps(body).encode()


def _moderation_body(answer: nd.AnswerRow) -> bytes:
    if answer.moderation == "change":
        return json.dumps(
            {"decision": "change", "level": answer.moderated_level, "reason": nd.CHANGE_REASON}
        ).encode()
    return json.dumps({"decision": "agree"}).encode()


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    answer = client.request(method, path, **kwargs)
    if answer.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
    return answer


def _self_assess(
    client: httpx.Client, organisation_id: str, answers: list[tuple[str, bytes]]
) -> str:
    """Open a draft of the default model, save every answer, submit: the self-assessment's id."""
    opened = _send(
        client,
        "POST",
        f"/v1/organisations/{organisation_id}/self-assessments",
        content=b"{}",
        headers=JSON,
    )
    found, etag = opened.json()["id"], opened.headers["ETag"]
    for key, body in answers:
        saved = _send(
            client,
            "PUT",
            f"/v1/self-assessments/{found}/answers/{key}",
            content=body,
            headers=JSON,
        )
        etag = saved.headers["ETag"]
    _send(client, "POST", f"/v1/self-assessments/{found}/submit", headers={"If-Match": etag})
    return str(found)


def import_over_http(
    base: str, key: str, pid: int, icbs: list[nd.Icb], moderator_key: str
) -> dict[str, Any]:
    """Each ICB created, then its four files imported into it, its organisations' returns
    imported into each, their self-assessments answered and submitted, and some answers
    moderated with another credential (an answer's author never moderates it). The files and
    bodies are made before the clock starts so that only the service's work is timed."""
    files = [
        (icb, {kind: getattr(nd, f"{kind}_csv")(icb) for kind in KINDS}, _later(icb))
        for icb in icbs
    ]
    seconds = dict.fromkeys((*KINDS, *LATER), 0.0)
    rows = dict.fromkeys(
        (
            *KINDS,
            "return_scores",
            "self_assessments",
            "self_assessment_answers",
            "moderated_answers",
        ),
        0,
    )
    auth = {"Authorization": f"Bearer {key}"}
    sampler = RssSampler(pid)
    began = time.monotonic()
    with (
        httpx.Client(base_url=base, headers=auth, timeout=IMPORT_TIMEOUT) as client,
        httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {moderator_key}"},
            timeout=IMPORT_TIMEOUT,
        ) as moderator,
        sampler.running(),
    ):
        for icb, by_kind, later in files:
            root = icb.root
            body = {"name": root.name, "odsCode": root.code, "organisationType": str(root.kind)}
            made = _post(client, "/v1/organisations", json.dumps(body).encode(), JSON)
            ids = {root.code: made["id"]}
            for kind, payload in by_kind.items():
                start = time.monotonic()
                answer = _post(
                    client, f"/v1/organisations/{made['id']}/imports/{kind}", payload, CSV
                )
                seconds[kind] += time.monotonic() - start
                rows[kind] += int(answer.get("created", 0))
                if kind == "organisations":  # a row per member, the header being row 1
                    for result in answer["results"]:
                        ids[icb.members[result["row"] - 2].code] = result["id"]
            start = time.monotonic()
            for code, kind, payload in later.returns:
                answer = _post(
                    client, f"/v1/organisations/{ids[code]}/imports/{kind}", payload, CSV
                )
                rows["return_scores"] += int(answer.get("created", 0))
            seconds["returns"] += time.monotonic() - start
            start = time.monotonic()
            submitted = {}
            for code, answers in later.answers:
                submitted[code] = _self_assess(client, ids[code], answers)
                rows["self_assessments"] += 1
                rows["self_assessment_answers"] += len(answers)
            seconds["self_assessments"] += time.monotonic() - start
            start = time.monotonic()
            for code, moderations in later.moderations.items():
                for capability, payload in moderations:
                    _send(
                        moderator,
                        "POST",
                        f"/v1/self-assessments/{submitted[code]}/answers/{capability}/moderation",
                        content=payload,
                        headers=JSON,
                    )
                    rows["moderated_answers"] += 1
            seconds["moderation"] += time.monotonic() - start
    wall = time.monotonic() - began
    return {
        "wall_seconds": round(wall, 1),
        "seconds_by_kind": {k: round(v, 1) for k, v in seconds.items()},
        "rows_created": rows,
        "rows_per_second": round(sum(rows.values()) / wall),
        "server_rss": sampler.as_json(),
    }


# ---- The floor: the same rows, COPYed ----


class _Rows:
    """Every table's rows for the COPY, and the audit events the service writes with them, in
    three groups timed apart: the files' records, the returns, the self-assessments."""

    GROUPS = {
        "records": (
            "organisation",
            "asset",
            "asset_tag",
            "activity",
            "activity_asset",
            "plan_item",
            "plan_item_asset",
            "audit_event",
        ),
        "returns": ("return_score", "audit_event"),
        # An assessment before the self-assessment naming it, and its answers after it.
        "self_assessments": (
            "asset",
            "assessment",
            "self_assessment",
            "self_assessment_answer",
            "audit_event",
        ),
    }

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, list[tuple[Any, ...]]]] = {
            group: {name: [] for name in tables} for group, tables in self.GROUPS.items()
        }
        self.group = "records"
        self.now = datetime.now(UTC) - timedelta(days=1)

    @property
    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """The current group's tables."""
        return self.groups[self.group]

    def tick(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now

    def audit(
        self,
        kind: str,
        record: uuid.UUID | str,
        org: uuid.UUID,
        values: dict[str, Any],
        *,
        action: str = "create",
        before: dict[str, Any] | None = None,
        version: int | None = 1,
    ) -> None:
        self.tables["audit_event"].append(
            (
                uuid.uuid4(),
                self.tick(),
                "bench",
                "api_key",
                None,
                action,
                kind,
                str(record),
                org,
                json.dumps(diff(before or {}, values)),
                None,
                version,
                None,
            )
        )


COLUMNS = {
    "organisation": [
        "id",
        "name",
        "ods_code",
        "organisation_type",
        "parent_id",
        "created_at",
        "updated_at",
        "version",
        "is_demo",
        "benchmark_opt_out",
    ],
    "asset": [
        "id",
        "organisation_id",
        "area",
        "capability_key",
        "name",
        "description",
        "maturity",
        "confidence",
        "evidence",
        "shared_with_members",
        "reviewed_by",
        "reviewed_at",
        "created_at",
        "updated_at",
        "version",
        "external_id",
    ],
    "asset_tag": ["asset_id", "tag"],
    "activity": [
        "id",
        "organisation_id",
        "area",
        "capability_key",
        "title",
        "activity_type",
        "status",
        "goal",
        "evidence",
        "created_at",
        "updated_at",
        "version",
        "external_id",
    ],
    "activity_asset": ["activity_id", "asset_id"],
    "plan_item": [
        "id",
        "organisation_id",
        "capability_key",
        "title",
        "status",
        "rag",
        "created_at",
        "updated_at",
        "version",
        "external_id",
    ],
    "plan_item_asset": ["plan_item_id", "asset_id"],
    "return_score": [
        "id",
        "organisation_id",
        "framework",
        "year",
        "heading",
        "domain",
        "score",
        "validated",
        "imported_at",
    ],
    "assessment": [
        "id",
        "organisation_id",
        "reference_model_version",
        "scope",
        "overall_score",
        "label",
        "result",
        "seen_from",
        "created_at",
    ],
    "self_assessment": [
        "id",
        "created_at",
        "updated_at",
        "version",
        "organisation_id",
        "reference_model_version",
        "status",
        "opened_by",
        "opened_by_respondent",
        "submitted_by",
        "submitted_at",
        "assessment_id",
    ],
    "self_assessment_answer": [
        "self_assessment_id",
        "capability_key",
        "level",
        "not_applicable",
        "comment",
        "evidence",
        "answered_by",
        "respondent",
        "answered_at",
        "record_id",
        "record_version",
        "moderation",
        "moderated_level",
        "moderation_reason",
        "moderated_by",
        "moderator_respondent",
        "moderated_at",
    ],
    "audit_event": [
        "id",
        "occurred_at",
        "actor",
        "actor_kind",
        "request_id",
        "action",
        "resource_type",
        "resource_id",
        "organisation_id",
        "changes",
        "position",
        "version",
        "parent_organisation_id",
    ],
}


def _asset_row(**values: Any) -> tuple[Any, ...]:
    """An asset's row in COLUMNS' order (a generated asset and one a submit wrote alike)."""
    return tuple(values[column] for column in COLUMNS["asset"])


def _evidence(links: Any) -> str:
    return json.dumps([{"title": title, "url": url} for title, url in links])


def rows_of(icb: nd.Icb) -> _Rows:
    out = _Rows()
    t = out.tables
    codes: dict[str, uuid.UUID] = {}
    reviewed = datetime(2026, 1, 10, 9, tzinfo=UTC)
    for org in icb.organisations:
        oid = codes[org.code] = uuid.uuid4()
        at = out.tick()
        parent = codes[org.parent] if org.parent else None
        t["organisation"].append(
            (oid, org.name, org.code, str(org.kind), parent, at, at, 1, False, False)
        )
        out.audit(
            "organisation",
            oid,
            oid,
            {"name": org.name, "ods_code": org.code, "organisation_type": str(org.kind)},
        )
        assets: dict[str, uuid.UUID] = {}
        for a in nd.assets_of(org):
            aid = assets[a.external_id] = uuid.uuid4()
            at = out.tick()
            t["asset"].append(
                _asset_row(
                    id=aid,
                    organisation_id=oid,
                    area=a.area,
                    capability_key=a.key,
                    name=a.name,
                    description=a.description,
                    maturity=a.maturity,
                    confidence=a.confidence,
                    evidence=_evidence(a.evidence),
                    shared_with_members=a.shared,
                    reviewed_by=a.reviewed_by,
                    reviewed_at=reviewed if a.reviewed_by else None,
                    created_at=at,
                    updated_at=at,
                    version=1,
                    external_id=a.external_id,
                )
            )
            t["asset_tag"].extend((aid, tag) for tag in a.tags)
            out.audit("asset", aid, oid, {"name": a.name, "area": a.area, "tags": list(a.tags)})
        for c in nd.activities_of(org):
            cid = uuid.uuid4()
            at = out.tick()
            t["activity"].append(
                (
                    cid,
                    oid,
                    c.area,
                    c.key,
                    c.title,
                    c.activity_type,
                    c.status,
                    c.goal,
                    "[]",
                    at,
                    at,
                    1,
                    c.external_id,
                )
            )
            t["activity_asset"].append((cid, assets[c.asset]))
            out.audit("activity", cid, oid, {"title": c.title, "status": c.status})
        for p in nd.plan_items_of(org):
            pid = uuid.uuid4()
            at = out.tick()
            t["plan_item"].append(
                (pid, oid, p.key, p.title, p.status, p.rag, at, at, 1, p.external_id)
            )
            t["plan_item_asset"].append((pid, assets[p.asset]))
            out.audit("plan_item", pid, oid, {"title": p.title, "status": p.status})
    out.group = "returns"
    for org in icb.organisations:
        _returns(out, codes[org.code], nd.returns_of(org))
    out.group = "self_assessments"
    for org in icb.organisations:
        answers = nd.answers_of(org)
        if answers:
            _self_assessment(out, org, codes[org.code], codes[icb.root.code], answers)
    return out


def _returns(out: _Rows, oid: uuid.UUID, rows: list[nd.ReturnRow]) -> None:
    """The return's scores, and an audit event per framework and year (as its import)."""
    for framework, year in sorted({(r.framework, r.year) for r in rows}):
        at = out.tick()
        scores = {}
        for r in rows:
            if (r.framework, r.year) == (framework, year):
                out.tables["return_score"].append(
                    (
                        uuid.uuid4(),
                        oid,
                        framework,
                        year,
                        r.heading,
                        r.domain,
                        r.score,
                        r.validated,
                        at,
                    )
                )
                scores[r.heading + (f" / {r.domain}" if r.domain else "")] = r.score
        out.audit("return", f"{framework} {year}", oid, {"scores": scores}, version=None)


def _self_assessment(
    out: _Rows, org: nd.Org, oid: uuid.UUID, root: uuid.UUID, answers: list[nd.AnswerRow]
) -> None:
    """What opening, answering, submitting and moderating write: the self-assessment and its
    answers, an asset per answered level (updated by its moderation), the assessment the submit
    stores, and their audit events. The assessment's result is a stand-in of the analysis (its
    summary and a gap per answer): the floor does not run the analysis the submit stores, so it
    leaves out that work and writes a smaller document."""
    t = out.tables
    sid, opened = uuid.uuid4(), out.tick()
    version = nd.MODEL.version
    out.audit(
        "self_assessment",
        sid,
        oid,
        {"organisation_id": str(oid), "reference_model_version": version, "status": "draft"},
        version=None,
    )
    answered: dict[str, datetime] = {}
    for a in answers:
        answered[a.key] = out.tick()
        out.audit(
            "self_assessment",
            sid,
            oid,
            {"answer": {"capability_key": a.key, "level": a.level, "comment": a.comment}},
            action="update",
            version=None,
        )
    records: dict[str, tuple[uuid.UUID, int]] = {}
    for a in answers:
        if a.level is None:
            continue
        aid, at = uuid.uuid4(), out.tick()
        name = f"{a.title} (self-assessment)"[:200]
        moderated = a.moderation is not None
        t["asset"].append(
            _asset_row(
                id=aid,
                organisation_id=oid,
                area=a.area,
                capability_key=a.key,
                name=name,
                description=a.comment,
                maturity=a.held_level,
                confidence="peer_reviewed" if moderated else "self_assessed",
                evidence=_evidence(a.evidence),
                shared_with_members=False,
                reviewed_by=nd.MODERATOR if moderated else None,
                reviewed_at=at if moderated else None,
                created_at=at,
                updated_at=at,
                version=2 if moderated else 1,
                external_id=None,
            )
        )
        records[a.key] = (aid, 2 if moderated else 1)
        out.audit("asset", aid, oid, {"name": name, "area": a.area, "tags": []})
    levels = [a.level for a in answers if a.level is not None]
    overall = round(100 * sum(levels) / (4 * max(len(levels), 1)), 1)  # a percentage
    assessment, submitted = uuid.uuid4(), out.tick()
    result = {
        "scope": "organisation",
        "organisation": {"id": str(oid), "name": org.name, "organisationType": str(org.kind)},
        "referenceModel": {"version": version},
        "generatedAt": submitted.isoformat(),
        "summary": {"overallScore": overall},
        "gaps": [{"capabilityKey": a.key, "currentLevel": a.level} for a in answers],
    }
    label = f"Self-assessment {sid}"
    t["assessment"].append(
        (
            assessment,
            oid,
            version,
            "organisation",
            overall,
            label,
            json.dumps(result),
            root,
            submitted,
        )
    )
    out.audit("assessment", assessment, oid, {"label": label, "scope": "organisation"})
    out.audit("self_assessment", sid, oid, {"status": "submitted"}, action="update", version=None)
    moderated_at: dict[str, datetime] = {}
    for a in answers:
        if a.moderation is not None:
            moderated_at[a.key] = out.tick()
            out.audit(
                "asset",
                records[a.key][0],
                oid,
                {"confidence": "peer_reviewed"},
                action="update",
                version=2,
            )
            out.audit(
                "self_assessment",
                sid,
                oid,
                {"answer": {"moderation": a.moderation}},
                action="update",
                version=None,
            )
    # Opened (1), every answer saved, submitted, every moderation: each bumps the version.
    final = 1 + len(answers) + 1 + len(moderated_at)
    t["self_assessment"].append(
        (
            sid,
            opened,
            out.now,
            final,
            oid,
            version,
            "submitted",
            "bench",
            None,
            "bench",
            submitted,
            assessment,
        )
    )
    for a in answers:
        record = records.get(a.key)
        when = moderated_at.get(a.key)
        t["self_assessment_answer"].append(
            (
                sid,
                a.key,
                a.level,
                a.level is None,
                a.comment,
                _evidence(a.evidence),
                "bench",
                None,
                answered[a.key],
                record[0] if record else None,
                record[1] if record else None,
                a.moderation,
                a.moderated_level,
                nd.CHANGE_REASON if a.moderation == "change" else None,
                nd.MODERATOR if when else None,
                None,
                when,
            )
        )


def prepare(url: str) -> None:
    """A fresh schema and the shipped reference model (what the service's import needs)."""
    migrate_fresh(url)


async def _copy(url: str, icbs: list[nd.Icb]) -> dict[str, Any]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    seconds = dict.fromkeys(_Rows.GROUPS, 0.0)
    counts: dict[str, int] = {}
    try:
        for icb in icbs:
            rows = rows_of(icb)  # made before the clock, as the import's files are
            for group, tables in rows.groups.items():
                start = time.monotonic()
                async with connection.transaction():
                    for table, records in tables.items():
                        await connection.copy_records_to_table(
                            table, records=records, columns=COLUMNS[table]
                        )
                        counts[table] = counts.get(table, 0) + len(records)
                seconds[group] += time.monotonic() - start
    finally:
        await connection.close()
    return {
        "wall_seconds": round(sum(seconds.values()), 1),
        "seconds_by_kind": {k: round(v, 2) for k, v in seconds.items()},
        "rows": counts,
    }


def copy_floor(url: str, icbs: list[nd.Icb]) -> dict[str, Any]:
    """COPY every table's rows, one transaction per ICB and group (the files' records, the
    returns, the self-assessments: the import commits per request), each group timed."""
    return asyncio.run(_copy(url, icbs))
