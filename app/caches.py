"""Every in-process cache, named once with its bound and its time to live, built on cachetools;
and ``clear_all()``, which empties them all (tests call it between tests that share a process).

A cache belongs to the module that fills it, which builds it here by name: ``lru(ANALYSIS_RESULTS)``
or ``timed(API_KEYS, ttl)``. What each may hold, and why it is right to reuse it, is said
beside the module that uses it; how much it may hold is said below, and only here.

No lock: every get and put runs on the event loop's one thread and none awaits between
looking and storing, so no two callers interleave inside a cache operation. Work done in a
worker thread (the analysis's CPU parts) hands its result back to the loop, which stores it.
cachetools' caches are not thread-safe, so a cache touched from a worker thread would need one.
"""

import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import Cache, LRUCache, TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Named:
    """A cache's name (for logs and tests), how many entries it holds at most, and how long
    an entry lives (None: until pushed out by newer ones, least recently used first)."""

    name: str
    maxsize: int
    ttl_seconds: float | None = None


# Parsed reference-model documents, by (version, rowVersion, updatedAt); and the keys whose
# document is not a model (each logged once, never parsed again).
REFERENCE_MODELS = Named("reference.models", 64)
REFERENCE_UNREADABLE = Named("reference.unreadable", 64)
# Keys known to parse, for the readiness probe: far more fit than parsed models.
REFERENCE_READABLE = Named("reference.readable", 4096)
# Analyses last given, by everything they were computed from: a member analysis of a
# 200-member ICS is some 200 KB of objects, so 128 of them stay well under 50 MB.
ANALYSIS_RESULTS = Named("analysis.results", 128)
# A system's aggregated claims (a 200-member ICS: about 23,000 rows, a few MB each), and who
# meets what per model (a few hundred small sets).
SYSTEM_CLAIMS = Named("analysis.system_claims", 8)
SYSTEM_MET = Named("analysis.system_met", 64)
# A system's organisations in name order with their references (a 400-member ICS: 100 KB).
SYSTEM_ROSTERS = Named("analysis.system_rosters", 64)
# The national views' answers, per state of the data, caller's scope and model (each holds
# the standings below, shared, and the systems' summaries: a few MB at national scale).
NATIONAL_FIGURES = Named("national.figures", 8)
# Where each organisation stands on every capability of a model (a tuple of small numbers and
# its scores, under 1 KB): every organisation of the country, for two models and a few scopes.
NATIONAL_STANDINGS = Named("national.standings", 40_000)
# What one organisation meets (a set of capability keys, well under 1 KB): enough for every
# organisation in England (8,300) under a few models.
MEMBER_MET = Named("analysis.member_met", 50_000)
# One organisation's aggregated records at one records revision (its claims' rows: a practice
# a few dozen, an ICB a few hundred small tuples): those above a changed member, read again
# on each of its first analyses after a change until now.
ORGANISATION_ROWS = Named("analysis.organisation_rows", 2_000)
# A benchmark's comparison groups, per snapshot, organisation type and whom the group leaves
# out (the own system, the caller's scope): each the quartiles of some 30 figures, a few KB.
BENCHMARK_GROUPS = Named("benchmarks.groups", 256)
# Verified API keys: the time to live is LHS_API_KEY_CACHE_SECONDS (a setting, so it is given
# where the cache is built); the bound holds memory whatever the traffic.
API_KEYS = Named("auth.api_keys", 10_000)
# Keys whose use was recorded in the last minute (app.auth.usage): lastUsedAt is written at
# most once a minute per key, whatever the traffic.
KEY_USE = Named("auth.key_use", 10_000, ttl_seconds=60.0)
# Each caller's last write position on the primary, for reads from a replica (app.http.replica):
# the time to live follows LHS_REPLICA_MAX_LAG_SECONDS.
REPLICA_WRITES = Named("replica.last_writes", 10_000)
# ODS codes of tokens' organisations, resolved to our ids.
ODS_CODES = Named("auth.ods_codes", 10_000, ttl_seconds=300.0)

# Every cache built here, while it lives (an app's key cache goes with its app). Keyed by id:
# a cache is a mapping, and mappings are not hashable.
_built: "weakref.WeakValueDictionary[int, Cache[Any, Any]]" = weakref.WeakValueDictionary()


def _registered(cache: "Cache[K, V]") -> "Cache[K, V]":
    _built[id(cache)] = cache
    return cache


def lru(named: Named) -> "LRUCache[K, V]":
    """A cache of at most ``named.maxsize`` entries, the least recently used pushed out first."""
    cache: LRUCache[K, V] = LRUCache(maxsize=named.maxsize)
    _registered(cache)
    return cache


def timed(named: Named, ttl_seconds: float | None = None) -> "TTLCache[K, V]":
    """An LRU cache whose entries also expire ``ttl_seconds`` after they were stored (the
    named one's own unless given: a setting may name it)."""
    ttl = named.ttl_seconds if ttl_seconds is None else ttl_seconds
    if ttl is None:
        raise ValueError(f"cache {named.name} has no time to live")
    cache: TTLCache[K, V] = TTLCache(maxsize=named.maxsize, ttl=ttl)
    _registered(cache)
    return cache


def hit(cache: "Cache[K, V]", key: K) -> V | None:
    """The entry for ``key``, or None. For the hot paths: a subscription costs a third of
    cachetools' own ``get`` on a TTLCache (1.3 against 4.5 µs, which holds the cache's timer
    and looks the key up twice) and two thirds of it on an LRUCache (0.45 against 0.67 µs)."""
    try:
        return cache[key]
    except KeyError:
        return None


def clear_all() -> None:
    """Empty every cache in the process (and forget work in flight; see app.singleflight)."""
    for cache in list(_built.values()):
        cache.clear()
    for clear in _also:
        clear()


def also_clear(clear: Callable[[], None]) -> None:
    """Have ``clear_all`` call ``clear`` too: process-wide state that is not a cache."""
    _also.append(clear)


_also: list[Callable[[], None]] = []
