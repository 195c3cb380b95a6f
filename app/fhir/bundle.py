"""A search's answer as a FHIR ``searchset`` Bundle: a pure function of the rows found and the
addresses the router gives (it knows the URLs; this knows FHIR)."""

import uuid
from collections.abc import Callable, Sequence

from app.fhir import mapping
from app.fhir.schemas import (
    FhirBundle,
    FhirBundleEntry,
    FhirBundleLink,
    FhirBundleSearch,
    FhirIssue,
    FhirOperationOutcome,
)
from app.models import Organisation
from app.organisations.schemas import OrganisationPublic


def searchset(
    rows: Sequence[Organisation],
    *,
    parents: dict[uuid.UUID, Organisation],
    total: int,
    self_url: str,
    next_url: str | None,
    read_url: Callable[[uuid.UUID], str],
    ignored: Sequence[str] = (),
) -> FhirBundle:
    """``rows``: the page (without a look-ahead row); ``parents``: those the caller may see;
    ``read_url``: an Organization's absolute address on the base; ``ignored``: parameters the
    search ran without (FHIR's lenient handling), said in an outcome entry."""
    links = [FhirBundleLink(relation="self", url=self_url)]
    if next_url is not None:
        links.append(FhirBundleLink(relation="next", url=next_url))
    entries = [
        FhirBundleEntry(
            full_url=read_url(row.id),
            resource=mapping.organization(
                OrganisationPublic.model_validate(row, from_attributes=True),
                parent=_public(parents.get(row.parent_id) if row.parent_id else None),
                parent_url=read_url(row.parent_id) if row.parent_id else None,
            ),
            search=FhirBundleSearch(mode="match"),
        )
        for row in rows
    ]
    if ignored:
        warning = FhirOperationOutcome(
            resource_type="OperationOutcome",
            issue=[
                FhirIssue(
                    severity="warning",
                    code="not-supported",
                    diagnostics=f"Parameter {name} is not supported and was ignored "
                    "(send 'Prefer: handling=strict' to make this an error).",
                )
                for name in ignored
            ],
        )
        entries.append(FhirBundleEntry(resource=warning, search=FhirBundleSearch(mode="outcome")))
    return FhirBundle(
        resource_type="Bundle",
        type="searchset",
        total=total,
        link=links,
        entry=entries or None,  # FHIR has no empty arrays
    )


def _public(row: Organisation | None) -> OrganisationPublic | None:
    return OrganisationPublic.model_validate(row, from_attributes=True) if row else None
