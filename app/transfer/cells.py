"""How one value sits in one spreadsheet cell, for every CSV this service reads or writes.

Formula injection: a spreadsheet runs a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula, so such a cell is written with a leading ``'`` (which
spreadsheets read as "this is text"). Reading a cell undoes exactly that: a leading ``'`` is
dropped only before one of those characters or before another ``'`` (and a value that itself
begins that way is written with one more), so every value survives an export and a re-import.

Lists in one cell: items are separated by ``;``, an evidence link is ``title|url``, and a
literal ``;``, ``|`` or ``\\`` inside a value is written ``\\;``, ``\\|`` or ``\\\\``.
"""

from collections.abc import Iterable, Sequence

from app.errors import excerpt

MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
# Excel reads a UTF-8 file as UTF-8 only when it starts with a byte-order mark.
BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"
ITEM_SEPARATOR = ";"
PART_SEPARATOR = "|"
_ESCAPE = "\\"


def neutralise(cell: str) -> str:
    """Make a cell that a spreadsheet would read as a formula read as text."""
    if cell.startswith(FORMULA_START) or (
        cell.startswith(_QUOTE) and cell[1:2] in (*FORMULA_START, _QUOTE) and len(cell) > 1
    ):
        return _QUOTE + cell
    return cell


def restore(cell: str) -> str:
    """The value a neutralised cell holds (the inverse of ``neutralise``)."""
    if cell.startswith(_QUOTE) and len(cell) > 1 and cell[1] in (*FORMULA_START, _QUOTE):
        return cell[1:]
    return cell


def _escape(value: str) -> str:
    for char in (_ESCAPE, ITEM_SEPARATOR, PART_SEPARATOR):
        value = value.replace(char, _ESCAPE + char)
    return value


def _split(text: str, separator: str) -> list[str]:
    """Split on unescaped separators; escapes of the other characters are kept for later."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == _ESCAPE:
            current.append(char + next(chars, ""))
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(next(chars, "") if char == _ESCAPE else char)
    return "".join(out)


def join_items(items: Iterable[str]) -> str:
    return f"{ITEM_SEPARATOR} ".join(_escape(item) for item in items)


def split_items(cell: str) -> list[str]:
    """``a; b;c`` -> ``["a", "b", "c"]``; blank items are dropped."""
    items = (_unescape(item.strip()) for item in _split(cell, ITEM_SEPARATOR))
    return [item for item in items if item]


def join_links(links: Sequence[dict[str, str]]) -> str:
    return f"{ITEM_SEPARATOR} ".join(
        f"{_escape(link['title'])}{PART_SEPARATOR}{_escape(link['url'])}" for link in links
    )


def split_links(cell: str) -> list[dict[str, str]]:
    """``Title|https://url; Title 2|https://url2`` -> evidence links (ValueError: why not)."""
    links = []
    for item in _split(cell, ITEM_SEPARATOR):
        if not item.strip():
            continue
        parts = _split(item, PART_SEPARATOR)
        if len(parts) != 2:
            raise ValueError(
                f"each evidence link is written title|url, links separated by ';' "
                f"(found {excerpt(item.strip())})"
            )
        title, url = (_unescape(part.strip()) for part in parts)
        links.append({"title": title, "url": url})
    return links
