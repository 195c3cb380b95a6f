"""The reference models' prebuilt statements (see app.db.prebuilt): an analysis chooses its
model on every request, by primary key (the default is a version the operator named)."""

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col

from app.db import prebuilt
from app.models import ReferenceModel

# What names a model's parsed document (see stored.key_of), and whose variant it is.
_CHOICE = sa_select(
    col(ReferenceModel.version),
    col(ReferenceModel.row_version),
    col(ReferenceModel.updated_at),
    col(ReferenceModel.organisation_id),
    col(ReferenceModel.based_on),
)
BY_VERSION = prebuilt(
    "reference.by_version", _CHOICE.where(col(ReferenceModel.version) == bindparam("version"))
)
ALL = prebuilt("reference.all", _CHOICE.order_by(col(ReferenceModel.version)))
# A model's document, read only when this process has not parsed that key yet.
DOCUMENT = prebuilt(
    "reference.document",
    sa_select(col(ReferenceModel.document)).where(
        col(ReferenceModel.version) == bindparam("version")
    ),
)
