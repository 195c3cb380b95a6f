"""JSON from outside: one depth bound and one size bound for every parser of a caller's bytes
(request bodies, file imports, ODS files, JWKS documents, cursors, tokens' issuers' keys).

No parser sees a document before its raw bytes are scanned. The scan counts nesting on the
bytes themselves (brackets outside strings) and refuses a document nested deeper than
MAX_DEPTH before any parser builds anything: Python's json recurses once a level (a
RecursionError near a thousand), and ijson's item builder keeps a path per level, so its memory
grew with the square of the depth (400 KB of brackets took a process past 9 GB). The scan holds
nothing of the document and carries its state from one chunk to the next, for bodies read as a
stream. Its Python code runs once per run of brackets; strings and the text between them are
skipped by regular expressions, and a run's brackets counted by ``bytes.count``.

A scan only needs to be exact on a valid prefix of a document: every parser stops at the first
byte that cannot continue one, so what a malformed document holds after it is never built.
"""

import json
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

from app.errors import NestedTooDeep, PayloadTooLarge

# The service's own documents nest about ten levels (a map with its reference models).
MAX_DEPTH = 64
# Bracket runs and files are scanned in slices: a refusal comes within one slice of the level
# that breaks the bound, and no slice is copied whole.
_SLICE = 65_536

_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# Brackets as signed bytes: +1 for an opening one, -1 for a closing one.
_DELTAS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_BOM = b"\xef\xbb\xbf"


class DepthGauge:
    """Counts how deep a JSON text nests, chunk by chunk; NestedTooDeep past ``max_depth``.

    Each slice of a chunk is a few passes in C, none in Python per byte: escaped backslashes
    and escaped quotes are dropped (what is left of a backslash at the end escapes the next
    chunk's first byte), so every quote left opens or closes a string; splitting on quotes
    leaves the text outside strings in every other part; its brackets, as +1 and -1, are summed
    level by level only when they could pass the bound."""

    def __init__(self, max_depth: int = MAX_DEPTH) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self._in_string = False
        self._escaped = False  # the last chunk ended on a backslash that escapes a byte

    def feed(self, chunk: bytes) -> None:
        for start in range(0, len(chunk), _SLICE):
            self._feed(chunk[start : start + _SLICE])

    def _feed(self, chunk: bytes) -> None:
        if self._escaped and chunk:
            chunk, self._escaped = chunk[1:], False
        if b"\\" in chunk:
            # Left to right, as a parser pairs them: after the pairs, a backslash is alone.
            chunk = chunk.replace(b"\\\\", b"")
            if chunk.endswith(b"\\"):
                chunk, self._escaped = chunk[:-1], True
            chunk = chunk.replace(b'\\"', b"")
        parts = chunk.split(b'"')
        outside = parts[1::2] if self._in_string else parts[::2]
        if len(parts) % 2 == 0:  # an odd number of quotes
            self._in_string = not self._in_string
        self._count(b"".join(outside).translate(None, _NOT_BRACKETS))

    def _count(self, brackets: bytes) -> None:
        opens = brackets.count(b"[") + brackets.count(b"{")
        if self.depth + opens > self.max_depth:  # it might pass the bound: sum it level by level
            deltas = memoryview(brackets.translate(_DELTAS)).cast("b")
            if max(accumulate(deltas, initial=self.depth)) > self.max_depth:
                raise NestedTooDeep(
                    f"The JSON nests arrays and objects deeper than {self.max_depth} levels; "
                    "it was refused before it was read."
                )
        self.depth += 2 * opens - len(brackets)


def check(data: bytes) -> None:
    """NestedTooDeep if the JSON text ``data`` nests deeper than MAX_DEPTH."""
    DepthGauge().feed(data)


def loads(data: bytes, *, max_bytes: int) -> Any:
    """Decoded UTF-8 JSON (a byte-order mark is dropped), once its size and depth are within
    bounds (PayloadTooLarge, NestedTooDeep); a ValueError if it is not UTF-8 JSON
    (json.JSONDecodeError for a syntax error, UnicodeDecodeError for the encoding).

    Only UTF-8 is read: in UTF-16 a quote or a bracket byte can be half of another character,
    and the scan would count what the parser does not."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The JSON document is over {max_bytes} bytes.")
    data = data.removeprefix(_BOM)
    check(data)
    return json.loads(data.decode("utf-8"))


def read(stream: BinaryIO, *, max_bytes: int, name: str) -> bytes:
    """A stream's bytes, refused (PayloadTooLarge) before they are read past ``max_bytes``."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name} is over {max_bytes} bytes.")
    return data


def read_file(path: Path, *, max_bytes: int) -> bytes:
    with path.open("rb") as file:
        return read(file, max_bytes=max_bytes, name=str(path))
