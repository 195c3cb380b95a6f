"""Where a token issuer's public keys come from: a JWKS file or URL, cached.

Only asymmetric keys for the pinned algorithms are kept, so a symmetric ("oct") key published
by mistake can never verify anything. A token naming an unknown key id makes the URL be read
again, at most once per ``REFRESH_FLOOR`` seconds, so key rotation works without letting a
stream of forged key ids turn into a stream of fetches.
"""

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
from jwt import PyJWK, PyJWKError

from app.config import JwtIssuer

logger = logging.getLogger("app.auth")

REFRESH_FLOOR = 30.0
FETCH_TIMEOUT = 5.0


class JwksUnavailable(Exception):
    """The issuer's keys could not be read."""


class Jwks:
    def __init__(self, issuer: JwtIssuer, *, algorithms: Sequence[str], ttl: float) -> None:
        self.issuer = issuer
        self.algorithms = set(algorithms)
        self.ttl = ttl
        self._keys: list[PyJWK] = []
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None, algorithm: str) -> PyJWK | None:
        now = time.monotonic()
        if now - self._loaded_at >= self.ttl:
            await self._reload(stale_before=now - self.ttl)
        key = self._pick(kid, algorithm)
        if key is None and time.monotonic() - self._loaded_at >= REFRESH_FLOOR:
            await self._reload(stale_before=time.monotonic() - REFRESH_FLOOR)
            key = self._pick(kid, algorithm)
        return key

    def _pick(self, kid: str | None, algorithm: str) -> PyJWK | None:
        usable = [key for key in self._keys if key.algorithm_name == algorithm]
        if kid is not None:
            return next((key for key in usable if key.key_id == kid), None)
        return usable[0] if len(usable) == 1 else None  # no kid: only when unambiguous

    async def _reload(self, *, stale_before: float) -> None:
        async with self._lock:
            if self._loaded_at > stale_before:  # another request reloaded meanwhile
                return
            document = await self._read()
            self._keys = self._parse(document)
            self._loaded_at = time.monotonic()

    async def _read(self) -> Any:
        try:
            if self.issuer.jwks_path is not None:
                text = await asyncio.to_thread(self.issuer.jwks_path.read_text)
                return json.loads(text)
            assert self.issuer.jwks_url is not None
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http:
                response = await http.get(self.issuer.jwks_url)
                response.raise_for_status()
                return response.json()
        except (OSError, ValueError, httpx.HTTPError) as exc:
            logger.warning("JWKS of %s unreadable: %s", self.issuer.issuer, exc)
            raise JwksUnavailable(str(exc)) from exc

    def _parse(self, document: Any) -> list[PyJWK]:
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise JwksUnavailable(f"JWKS of {self.issuer.issuer} has no 'keys' list")
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") not in ("RSA", "EC"):
                continue
            try:
                key = PyJWK(entry)
            except PyJWKError:
                continue
            if key.algorithm_name in self.algorithms:
                keys.append(key)
        return keys
