"""Stored model documents, parsed once per process. A document that is not a model (a row
damaged behind the service's back) is UnreadableModel, a 503 for the requests that need it."""

import logging
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from pydantic import ValidationError

from app import caches
from app.db import ReadContext, fetch
from app.errors import ServiceUnavailable
from app.reference import queries
from app.reference.schemas import ReferenceModelPublic, status_of

logger = logging.getLogger(__name__)

# Parsed documents by (version, rowVersion, updatedAt): a replaced model gets a new key, so
# every instance behind the load balancer sees the change without any shared cache. Keys
# whose document is not a model (a row damaged behind the service's back) are remembered
# too, so that each is logged once and never parsed again.
Key = tuple[str, int, datetime]
_parsed: LRUCache[Key, ReferenceModelPublic] = caches.lru(caches.REFERENCE_MODELS)
_unreadable: LRUCache[Key, str] = caches.lru(caches.REFERENCE_UNREADABLE)
# Keys known to parse, for the readiness probe (which needs no model, only the answer): far
# more of them fit than parsed models, so a probe of many variants parses each once.
_readable: LRUCache[Key, bool] = caches.lru(caches.REFERENCE_READABLE)


class UnreadableModel(ServiceUnavailable):
    """A stored model whose document is not a model: the requests that need it cannot be
    served until an operator repairs the row, but the rest of the service can."""


def key_of(row: Any) -> Key:
    return (row["version"], row["row_version"], row["updated_at"])


def _unreadable_error(version: str) -> UnreadableModel:
    return UnreadableModel(
        f"Reference model {version} is stored but cannot be read: its document is not a "
        "valid model. An operator must repair or reload it; other models still work."
    )


def parsed(key: Key, document: Any) -> ReferenceModelPublic:
    """The stored document as a model, once per key; UnreadableModel if it is not one."""
    model = caches.hit(_parsed, key)
    if model is not None:
        return model
    if key in _unreadable:
        raise _unreadable_error(key[0])
    try:
        model = ReferenceModelPublic.model_validate(document)
        if model.version != key[0]:
            raise ValueError(f"the document names version {model.version!r}")
        model.status = status_of(model.version)
    except (ValidationError, ValueError, TypeError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        logger.error("reference model %s cannot be read (%s)", key[0], reason)
        _unreadable[key] = reason
        raise _unreadable_error(key[0]) from exc
    _parsed[key] = model
    _readable[key] = True
    return model


async def parsed_from(reads: ReadContext, key: Key) -> ReferenceModelPublic:
    if key in _parsed or key in _unreadable:
        return parsed(key, None)
    (row,) = await fetch(reads, queries.DOCUMENT, {"version": key[0]})
    return parsed(key, row["document"])


def known_readable(key: Key) -> bool:
    return key in _readable
