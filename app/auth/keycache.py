"""A short-lived, in-process memory of verified keys: a request whose key was seen recently
costs no database round trip.

The time to live bounds how long a key revoked (or deleted with its organisation) on another
instance may still work on this one where no change is announced (no Redis: see
app.auth.revocations). A change on this instance evicts at once, from every cache in the
process.
"""

import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime

from cachetools import TTLCache

from app import caches
from app.auth.principal import Principal


@dataclass(frozen=True, slots=True)
class CachedKey:
    principal: Principal
    secret_hash: str
    expires_at: datetime | None
    # A rotation's old secret and the end of its grace period (None when there is none).
    previous_hash: str | None = None
    previous_until: datetime | None = None


_caches: "weakref.WeakSet[KeyCache]" = weakref.WeakSet()


class KeyCache:
    """One application's verified keys (bound and name in app.caches; the time to live is
    LHS_API_KEY_CACHE_SECONDS)."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: TTLCache[str, CachedKey] | None = None
        if ttl_seconds > 0:  # zero trusts no key without reading it again
            self._entries = caches.timed(caches.API_KEYS, ttl_seconds)
        _caches.add(self)

    def get(self, prefix: str) -> CachedKey | None:
        return None if self._entries is None else caches.hit(self._entries, prefix)

    def put(
        self,
        prefix: str,
        principal: Principal,
        secret_hash: str,
        expires_at: datetime | None,
        previous_hash: str | None = None,
        previous_until: datetime | None = None,
    ) -> None:
        if self._entries is not None:
            self._entries[prefix] = CachedKey(
                principal, secret_hash, expires_at, previous_hash, previous_until
            )

    def evict(self, prefix: str) -> None:
        if self._entries is not None:
            self._entries.pop(prefix, None)

    def clear(self) -> None:
        if self._entries is not None:
            self._entries.clear()

    def evict_organisation(self, organisation_id: uuid.UUID) -> None:
        if self._entries is None:
            return
        for prefix, entry in list(self._entries.items()):
            if entry.principal.organisation_id == organisation_id:
                self._entries.pop(prefix, None)


def forget(prefix: str) -> None:
    """A key was revoked or rotated: no cache in this process may vouch for what it knew of
    it any longer (other processes hear of it through app.auth.revocations)."""
    for cache in list(_caches):
        cache.evict(prefix)


def forget_organisation(organisation_id: uuid.UUID) -> None:
    """An organisation was deleted: its keys went with it (ON DELETE CASCADE)."""
    for cache in list(_caches):
        cache.evict_organisation(organisation_id)


def forget_all() -> None:
    """Changes may have been missed (a dropped subscription): trust no cached key, and no
    remembered ODS code."""
    for cache in list(_caches):
        cache.clear()
    for codes in list(_ods_codes.values()):
        codes.clear()


# Every application's ODS codes resolved to our organisations (app.auth.authenticate): a
# code moved to another organisation, or gone with a deleted one, must stop resolving.
# Keyed by id: a cache is a mapping, and mappings are not hashable.
_ods_codes: "weakref.WeakValueDictionary[int, TTLCache[str, uuid.UUID]]" = (
    weakref.WeakValueDictionary()
)


def ods_codes() -> "TTLCache[str, uuid.UUID]":
    """A new cache of ODS codes, forgotten by ``forget_ods_code`` and ``forget_all``."""
    codes: TTLCache[str, uuid.UUID] = caches.timed(caches.ODS_CODES)
    _ods_codes[id(codes)] = codes
    return codes


def forget_ods_code(code: str) -> None:
    for codes in list(_ods_codes.values()):
        codes.pop(code, None)
