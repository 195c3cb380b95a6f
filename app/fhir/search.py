"""The FHIR search on Organization, as parameters: which ones we serve, and what an
``identifier`` token asks for. Pure: the query is built in app.fhir.service.

FHIR's token syntax (http://hl7.org/fhir/R4/search.html#token), on the one identifier system
organisations have here, the ODS code:

- ``system|code``: that code, when the system is ODS's; no match for any other system.
- ``code``: that code in any system (so ODS's).
- ``|code``: an identifier with no system: ours always have one, so no match.
- ``system|``: any identifier of that system: every organisation with an ODS code.

Commas in one value are OR; the parameter repeated is AND.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.ods.roles import ODS_CODE_SYSTEM

IDENTIFIER = "identifier"
COUNT = "_count"
CURSOR = "_cursor"
SUPPORTED = frozenset({IDENTIFIER, COUNT, CURSOR})
# Values of one identifier parameter (commas): more is a request to split, not a search.
MAX_VALUES = 100


@dataclass(frozen=True)
class IdentifierMatch:
    """What the identifier parameters select: ``codes`` None is every organisation with an ODS
    code; ``codes`` empty is nothing; no parameter at all is ``everything``."""

    codes: frozenset[str] | None
    everything: bool = False


EVERYTHING = IdentifierMatch(codes=None, everything=True)


def _one_value(token: str) -> frozenset[str] | None:
    """The ODS codes one token names (None: every code)."""
    if "|" not in token:
        return frozenset({token.strip().upper()}) if token.strip() else frozenset()
    system, _, code = token.partition("|")
    if system != ODS_CODE_SYSTEM:
        return frozenset()
    return frozenset({code.strip().upper()}) if code.strip() else None


def _one_parameter(value: str) -> frozenset[str] | None:
    codes: set[str] = set()
    for token in value.split(","):
        named = _one_value(token)
        if named is None:
            return None  # one OR branch matches every code: the whole value does
        codes |= named
    return frozenset(codes)


def identifier_match(values: Sequence[str]) -> IdentifierMatch:
    if not values:
        return EVERYTHING
    selected: frozenset[str] | None = None
    for value in values:
        named = _one_parameter(value)
        if named is None:
            continue  # "every ODS code" narrows nothing further
        selected = named if selected is None else selected & named
    return IdentifierMatch(codes=selected)


def too_many_values(values: Sequence[str]) -> bool:
    return any(value.count(",") >= MAX_VALUES for value in values)


def unsupported(names: Iterable[str]) -> list[str]:
    """Parameters we do not serve, modifiers included (``identifier:of-type``), in order."""
    return sorted({name for name in names if name not in SUPPORTED})


def strict(prefer: str | None) -> bool:
    """``Prefer: handling=strict``: an unknown parameter is an error (FHIR's default here is
    lenient: it is ignored, and the Bundle says so)."""
    if prefer is None:
        return False
    return any(part.strip().lower() == "handling=strict" for part in prefer.split(","))
