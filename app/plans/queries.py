"""The plan items' prebuilt statements (see app.db.prebuilt): one item with the assets and
activities it links, and a page of them for each combination of filters, built once and run by
app.db.fetch on either database."""

from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Date, Select, String, Table, Uuid, and_, bindparam, not_
from sqlalchemy import select as sa_select

from app.db import Prebuilt, list_of, plain_columns, prebuilt
from app.models import PlanItem, PlanItemActivity, PlanItemAsset
from app.organisations.hierarchy import organisation_scope
from app.pagination import CURSOR_PARAMETERS, keyset_on_parameters
from app.vocabulary import OPEN_STATUSES

_ITEM = cast(Table, PlanItem.__table__)  # type: ignore[attr-defined]
_ASSET = cast(Table, PlanItemAsset.__table__)  # type: ignore[attr-defined]
_ACTIVITY = cast(Table, PlanItemActivity.__table__)  # type: ignore[attr-defined]

# vocabulary.is_overdue in SQL: still to be done, and due before the given day.
OPEN = tuple(status.value for status in OPEN_STATUSES)


def _with_links() -> Select[Any]:
    """Every item column and the ids of the assets and activities it links (unordered)."""
    assets = list_of(_ASSET.c.asset_id, _ASSET.c.plan_item_id == _ITEM.c.id)
    activities = list_of(_ACTIVITY.c.activity_id, _ACTIVITY.c.plan_item_id == _ITEM.c.id)
    return sa_select(
        *plain_columns(_ITEM), assets.label("asset_ids"), activities.label("activity_ids")
    )


ONE = prebuilt("plan_items.one", _with_links().where(_ITEM.c.id == bindparam("plan_item_id")))

# What a list may filter on by equality, as named parameters.
FILTERS = frozenset({"capability_key", "status", "rag"})
# The overdue filter, as today's date: ``overdue_on`` keeps the overdue, ``current_on`` the rest.
OVERDUE = frozenset({"overdue_on", "current_on"})


def _overdue(today: ColumnElement[Any]) -> ColumnElement[bool]:
    item = _ITEM.c
    status = item.status.in_([bindparam(f"open_{i}", s, type_=String) for i, s in enumerate(OPEN)])
    return and_(item.due_date.is_not(None), item.due_date < today, status)


def conditions(all_levels: bool, given: frozenset[str]) -> list[ColumnElement[bool]]:
    item = _ITEM.c
    organisation_id = bindparam("organisation_id", type_=Uuid)
    found = [organisation_scope(item.organisation_id, organisation_id, all_levels=all_levels)]
    # The stored strings: an Enum parameter would need processing (see app.db.prebuilt).
    for name in sorted(FILTERS & given):
        found.append(item[name] == bindparam(name, type_=String))
    if "overdue_on" in given:
        found.append(_overdue(bindparam("overdue_on", type_=Date)))
    if "current_on" in given:
        found.append(not_(_overdue(bindparam("current_on", type_=Date))))
    return found


@cache
def page(all_levels: bool, given: frozenset[str]) -> Prebuilt:
    """A page of an organisation's plan items (or its subtree's) for one combination of
    filters (``given``: the parameters that will be passed), oldest first on the
    (created_at, id) keyset, with ``limit``. Built and checked once per combination."""
    statement = _with_links().where(*conditions(all_levels, given))
    statement = keyset_on_parameters(
        statement, created_at=_ITEM.c.created_at, row_id=_ITEM.c.id, given=given
    )
    shape = ",".join(sorted(given - {"organisation_id", "limit"})) or "-"
    return prebuilt(f"plan_items.page[{'all' if all_levels else 'one'}:{shape}]", statement)


# The widest pages, built at import: every column and parameter type a page can have is
# checked before the first request, and the equality test runs them.
for _levels in (False, True):
    for _overdue_parameter in OVERDUE:
        page(
            _levels, FILTERS | CURSOR_PARAMETERS | {"organisation_id", "limit", _overdue_parameter}
        )
