"""The organisation's prebuilt statements (see app.db.prebuilt): built once, checked once,
run by app.db.fetch on either database."""

from typing import cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import aliased

from app.db import plain_columns, prebuilt
from app.models import Organisation

_ORGANISATION = cast(Table, Organisation.__table__)  # type: ignore[attr-defined]

# The read of one organisation: what GET answers, and what every access check reads first.
ONE = prebuilt(
    "organisations.one",
    select(*plain_columns(_ORGANISATION)).where(_ORGANISATION.c.id == bindparam("organisation_id")),
)


def _ancestors() -> Select[tuple[object, object]]:
    org = _ORGANISATION.c
    chain = (
        select(org.id, org.parent_id)
        .where(org.id == bindparam("organisation_id"))
        .cte("ancestors", recursive=True)
    )
    parent = aliased(_ORGANISATION)
    chain = chain.union(
        select(parent.c.id, parent.c.parent_id).where(parent.c.id == chain.c.parent_id)
    )
    return select(chain.c.id, chain.c.parent_id)


# The walk up from an organisation, as (id, parent_id), on the path of most requests (every
# scope check): a recursive CTE over an aliased table costs more to construct (new column
# objects, a new cache key) than to run.
ANCESTORS = prebuilt("organisations.ancestors", _ancestors())
