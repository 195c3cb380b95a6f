"""The assets' prebuilt statements (see app.db.prebuilt): one asset with its tags, and a page
of them for each combination of filters, built once and run by app.db.fetch on either
database; and the export's statement, which selects the same rows.

Tags come back in the asset's own row through app.db.list_of (no ORM objects, no second
query: a read of one asset spent most of its time building ORM objects for two queries): one
statement serves both databases."""

from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy import select as sa_select

from app.db import Prebuilt, list_of, plain_columns, prebuilt
from app.models import Asset, AssetTag
from app.organisations.hierarchy import organisation_scope
from app.pagination import CURSOR_PARAMETERS, keyset_on_parameters

_ASSET = cast(Table, Asset.__table__)  # type: ignore[attr-defined]
_TAG = cast(Table, AssetTag.__table__)  # type: ignore[attr-defined]


def _with_tags() -> Select[Any]:
    """Every asset column and the asset's tags, in one row.

    The evidence comes as its JSON text: the driver's JSON decoding (a Python call per row, in
    SQLAlchemy's codec) cost 7% of a page in which most assets have none; it is parsed only
    when there is some (assets.service.evidence_of)."""
    columns = [
        sa_cast(c, Text).label("evidence") if c.name == "evidence" else c
        for c in plain_columns(_ASSET)
    ]
    tags = list_of(_TAG.c.tag, _TAG.c.asset_id == _ASSET.c.id)
    return sa_select(*columns, tags.label("tags"))


ONE = prebuilt("assets.one", _with_tags().where(_ASSET.c.id == bindparam("asset_id")))

# What a list may filter on, as named parameters (a page and an export name the same ones).
FILTERS = frozenset({"area", "capability_key", "min_maturity", "max_maturity", "tag"})


@cache
def page(all_levels: bool, given: frozenset[str]) -> Prebuilt:
    """A page of an organisation's assets (or its subtree's) for one combination of filters
    (``given``: the parameters that will be passed), oldest first on the (created_at, id)
    keyset, with ``limit``. Built and checked once per combination."""
    statement = _with_tags().where(
        *conditions(bindparam("organisation_id", type_=Uuid), all_levels, given)
    )
    statement = keyset_on_parameters(
        statement, created_at=_ASSET.c.created_at, row_id=_ASSET.c.id, given=given
    )
    shape = ",".join(sorted(given - {"organisation_id", "limit"})) or "-"
    return prebuilt(f"assets.page[{'all' if all_levels else 'one'}:{shape}]", statement)


@cache
def everywhere(given: frozenset[str]) -> Prebuilt:
    """A page of every organisation's assets (a global caller's list), as ``page`` without
    the organisation: a scoped caller's list is ``page`` of its scope's subtree."""
    statement = _with_tags().where(*filtered(given))
    statement = keyset_on_parameters(
        statement, created_at=_ASSET.c.created_at, row_id=_ASSET.c.id, given=given
    )
    shape = ",".join(sorted(given - {"limit"})) or "-"
    return prebuilt(f"assets.page[everywhere:{shape}]", statement)


def conditions(
    organisation_id: Any, all_levels: bool, given: frozenset[str]
) -> list[ColumnElement[bool]]:
    """The list's filters, on named parameters: a page and a CSV export select the same rows.
    No organisation (None): every organisation's."""
    asset = _ASSET.c
    if organisation_id is None:
        return filtered(given)
    scope = organisation_scope(asset.organisation_id, organisation_id, all_levels=all_levels)
    return [scope, *filtered(given)]


def filtered(given: frozenset[str]) -> list[ColumnElement[bool]]:
    """The filters alone, whatever the organisations."""
    asset = _ASSET.c
    found: list[ColumnElement[bool]] = []
    if "area" in given:
        # The stored string: an Enum parameter would need processing (see app.db.prebuilt).
        found.append(asset.area == bindparam("area", type_=String))
    if "capability_key" in given:
        found.append(asset.capability_key == bindparam("capability_key"))
    if "min_maturity" in given:
        found.append(asset.maturity >= bindparam("min_maturity"))
    if "max_maturity" in given:
        found.append(asset.maturity <= bindparam("max_maturity"))
    if "tag" in given:
        tag = _TAG.c
        found.append(asset.id.in_(sa_select(tag.asset_id).where(tag.tag == bindparam("tag"))))
    return found


def exported(values: dict[str, Any], organisation_id: Any, *, all_levels: bool) -> Select[Any]:
    """The rows of ``page`` without the page: every asset that passes the filters (``values``),
    oldest first, for a CSV export streamed in a snapshot."""
    return (
        _with_tags()
        .where(*conditions(organisation_id, all_levels, frozenset(values)))
        .order_by(_ASSET.c.created_at, _ASSET.c.id)
        .params(**values)
    )


# The widest pages, built at import: every column and parameter type a page can have is
# checked before the first request, and the equality test runs them.
for _levels in (False, True):
    page(_levels, FILTERS | CURSOR_PARAMETERS | {"organisation_id", "limit"})
everywhere(FILTERS | CURSOR_PARAMETERS | {"limit"})
