"""How an asset is answered: a row of the asset read (its columns, its tags, its evidence as
JSON text) made into AssetPublic, the contract it is answered with.

The service returns rows; this is the one place that turns a row into its wire form. A page
of assets is written straight from the rows (``page_item``, no model built per item); see
app.http.answers for why, and the test that holds it byte-equal to the model's own
serialisation."""

from collections.abc import Mapping
from typing import Any

from app.assets.schemas import AssetPublic
from app.assets.service import evidence_of, sorted_tags, tags_and_evidence

# What AssetPublic's JSON has, in its order: (row column, key on the wire).
_WIRE = tuple((name, field.alias or name) for name, field in AssetPublic.model_fields.items())


def public(row: Mapping[str, Any]) -> AssetPublic:
    """The asset's response model, validated from its row."""
    return AssetPublic.model_validate(tags_and_evidence(row))


def page_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as AssetPublic serialises it (same keys, order and values) without building
    the model, for orjson to write. Evidence links are cut to the model's two fields."""
    item = {key: row[name] for name, key in _WIRE}
    item["tags"] = sorted_tags(row)
    item["evidence"] = [{"title": link["title"], "url": link["url"]} for link in evidence_of(row)]
    return item
