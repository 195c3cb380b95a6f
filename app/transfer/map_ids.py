"""A map imported as a copy: every record gets a new id, and every reference inside the
document follows (parents, owners, an activity's assets, where an assessment looked from, the
ids inside its stored analysis). Ids the caller chose never meet the ids already stored, so an
import says nothing about what exists elsewhere in the service."""

import uuid
from itertools import chain

from pydantic import JsonValue

from app.transfer.map_schemas import (
    MapActivity,
    MapAssessment,
    MapAsset,
    MapDocument,
    MapOrganisation,
    MapPlanItem,
)

IdMap = dict[uuid.UUID, uuid.UUID]


def with_new_ids(document: MapDocument, *, above: set[uuid.UUID]) -> tuple[MapDocument, IdMap]:
    """The document with new ids, and the mapping old -> new. ``above``: the organisations the
    map now hangs below (an assessment that looked from one of them keeps it; one that looked
    from anywhere else is left to callers of the whole service, as snapshots made before access
    control are)."""
    records: chain[MapOrganisation | MapAsset | MapActivity | MapPlanItem | MapAssessment] = chain(
        document.organisations,
        document.assets,
        document.activities,
        document.plan_items,
        document.assessments,
    )
    ids: IdMap = {record.id: uuid.uuid4() for record in records}
    strings = {str(old): str(new) for old, new in ids.items()}

    def new(value: uuid.UUID) -> uuid.UUID:
        return ids.get(value, value)

    def seen_from(value: uuid.UUID | None) -> uuid.UUID | None:
        if value is None:
            return None
        if value in ids:
            return ids[value]
        return value if value in above else None

    copy = document.model_copy(
        update={
            "root_id": ids[document.root_id],
            "organisations": [
                o.model_copy(
                    update={
                        "id": ids[o.id],
                        "parent_id": None if o.parent_id is None else new(o.parent_id),
                    }
                )
                for o in document.organisations
            ],
            "assets": [
                a.model_copy(update={"id": ids[a.id], "organisation_id": new(a.organisation_id)})
                for a in document.assets
            ],
            "activities": [
                v.model_copy(
                    update={
                        "id": ids[v.id],
                        "organisation_id": new(v.organisation_id),
                        "asset_ids": [new(a) for a in v.asset_ids],
                    }
                )
                for v in document.activities
            ],
            "plan_items": [
                p.model_copy(
                    update={
                        "id": ids[p.id],
                        "organisation_id": new(p.organisation_id),
                        "asset_ids": [new(a) for a in p.asset_ids],
                        "activity_ids": [new(a) for a in p.activity_ids],
                    }
                )
                for p in document.plan_items
            ],
            "assessments": [
                s.model_copy(
                    update={
                        "id": ids[s.id],
                        "organisation_id": new(s.organisation_id),
                        "seen_from": seen_from(s.seen_from),
                        "result": _renamed(s.result, strings),
                    }
                )
                for s in document.assessments
            ],
        }
    )
    return copy, ids


def _renamed(value: JsonValue, strings: dict[str, str]) -> JsonValue:
    """The stored analysis with each old id (a whole string, or a key) replaced by its new id."""
    if isinstance(value, str):
        return strings.get(value, value)
    if isinstance(value, list):
        return [_renamed(item, strings) for item in value]
    if isinstance(value, dict):
        return {strings.get(k, k): _renamed(v, strings) for k, v in value.items()}
    return value
