"""The activities' prebuilt statements (see app.db.prebuilt): one activity with the assets it
uses, and a page of them for each combination of filters, built once and run by app.db.fetch
on either database (one statement serves both: the links come through app.db.list_of)."""

from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    Uuid,
    bindparam,
)
from sqlalchemy import select as sa_select

from app.db import Prebuilt, list_of, plain_columns, prebuilt
from app.models import Activity, ActivityAsset
from app.organisations.hierarchy import organisation_scope
from app.pagination import CURSOR_PARAMETERS, keyset_on_parameters

_ACTIVITY = cast(Table, Activity.__table__)  # type: ignore[attr-defined]
_LINK = cast(Table, ActivityAsset.__table__)  # type: ignore[attr-defined]


def _with_links() -> Select[Any]:
    """Every activity column and the ids of the assets it uses (unordered), in one row."""
    links = list_of(_LINK.c.asset_id, _LINK.c.activity_id == _ACTIVITY.c.id)
    return sa_select(*plain_columns(_ACTIVITY), links.label("asset_ids"))


ONE = prebuilt("activities.one", _with_links().where(_ACTIVITY.c.id == bindparam("activity_id")))

# What a list may filter on, as named parameters.
FILTERS = frozenset({"area", "status", "activity_type"})


def conditions(all_levels: bool, given: frozenset[str]) -> list[ColumnElement[bool]]:
    activity = _ACTIVITY.c
    organisation_id = bindparam("organisation_id", type_=Uuid)
    found = [organisation_scope(activity.organisation_id, organisation_id, all_levels=all_levels)]
    # The stored strings: an Enum parameter would need processing (see app.db.prebuilt).
    for name in sorted(FILTERS & given):
        found.append(activity[name] == bindparam(name, type_=String))
    return found


@cache
def page(all_levels: bool, given: frozenset[str]) -> Prebuilt:
    """A page of an organisation's activities (or its subtree's) for one combination of
    filters (``given``: the parameters that will be passed), oldest first on the
    (created_at, id) keyset, with ``limit``. Built and checked once per combination."""
    statement = _with_links().where(*conditions(all_levels, given))
    statement = keyset_on_parameters(
        statement, created_at=_ACTIVITY.c.created_at, row_id=_ACTIVITY.c.id, given=given
    )
    shape = ",".join(sorted(given - {"organisation_id", "limit"})) or "-"
    return prebuilt(f"activities.page[{'all' if all_levels else 'one'}:{shape}]", statement)


# The widest pages, built at import: every column and parameter type a page can have is
# checked before the first request, and the equality test runs them.
for _levels in (False, True):
    page(_levels, FILTERS | CURSOR_PARAMETERS | {"organisation_id", "limit"})
