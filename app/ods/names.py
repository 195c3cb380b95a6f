"""ODS names in a readable case. ODS publishes names in capitals ("LEEDS TEACHING HOSPITALS
NHS TRUST"); people read "Leeds Teaching Hospitals NHS Trust". A pure function: the import
keeps ODS's own spelling as the official name beside it, so nothing is lost when a rule here
guesses wrong (a place name with a small word inside, a surname like McCARTHY).
"""

import re

# Initialisms that stay in capitals wherever they are.
ACRONYMS = frozenset(
    {"NHS", "ICB", "ICS", "CCG", "PCN", "GP", "GPS", "CIC", "UK", "LLP", "PLC", "CSU", "STP"}
)
# Small words stay lower-case, except as the first word of the name.
SMALL_WORDS = frozenset(
    {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "upon", "with"}
)
_CORE = re.compile(r"^([^A-Za-z0-9]*)(.*?)([^A-Za-z0-9]*)$")


def readable(name: str) -> str:
    """``name`` in title case when it is all capitals (acronyms and small words kept as
    above); a name that already has lower-case letters is someone's choice, kept as it is."""
    if any(char.islower() for char in name):
        return name
    words = name.split()
    return " ".join(_word(word, first=index == 0) for index, word in enumerate(words))


def _word(word: str, *, first: bool) -> str:
    parts = word.split("-")
    return "-".join(_part(part, first=first and index == 0) for index, part in enumerate(parts))


def _part(token: str, *, first: bool) -> str:
    match = _CORE.match(token)
    assert match is not None  # the pattern matches any string
    before, core, after = match.groups()
    if not core or any(char.isdigit() for char in core):  # a code ("02N") or punctuation
        return token
    if core.upper() in ACRONYMS:
        cased = core.upper()
    elif core.lower() in SMALL_WORDS and not first:
        cased = core.lower()
    else:
        cased = _capitalised(core)
    return before + cased + after


def _capitalised(core: str) -> str:
    """JOHN'S → John's, O'NEILL → O'Neill (a one-letter prefix is a name's own part)."""
    head, apostrophe, tail = core.partition("'")
    if apostrophe and len(head) == 1 and len(tail) > 1:
        return head.upper() + "'" + tail[:1].upper() + tail[1:].lower()
    return core[:1].upper() + core[1:].lower()
