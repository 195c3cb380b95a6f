"""A short-lived, in-process memory of verified keys: a request whose key was seen recently
costs no database round trip.

The time to live bounds how long a key revoked (or deleted with its organisation) on another
instance may still work on this one. Revocation on this instance evicts at once, from every
cache in the process.
"""

import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime

from app.auth.principal import Principal

MAX_ENTRIES = 10_000  # a bound on memory whatever the traffic; the oldest go first


@dataclass(frozen=True, slots=True)
class CachedKey:
    principal: Principal
    secret_hash: str
    expires_at: datetime | None
    cached_at: float


_caches: "weakref.WeakSet[KeyCache]" = weakref.WeakSet()


class KeyCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, CachedKey] = {}
        _caches.add(self)

    def get(self, prefix: str) -> CachedKey | None:
        entry = self._entries.get(prefix)
        if entry is None:
            return None
        if time.monotonic() - entry.cached_at >= self.ttl_seconds:
            del self._entries[prefix]
            return None
        return entry

    def put(
        self, prefix: str, principal: Principal, secret_hash: str, expires_at: datetime | None
    ) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[prefix] = CachedKey(principal, secret_hash, expires_at, time.monotonic())

    def evict(self, prefix: str) -> None:
        self._entries.pop(prefix, None)

    def evict_organisation(self, organisation_id: uuid.UUID) -> None:
        for prefix, entry in list(self._entries.items()):
            if entry.principal.organisation_id == organisation_id:
                del self._entries[prefix]


def forget(prefix: str) -> None:
    """A key was revoked: no cache in this process may vouch for it any longer."""
    for cache in list(_caches):
        cache.evict(prefix)


def forget_organisation(organisation_id: uuid.UUID) -> None:
    """An organisation was deleted: its keys went with it (ON DELETE CASCADE)."""
    for cache in list(_caches):
        cache.evict_organisation(organisation_id)
