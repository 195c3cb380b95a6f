"""Where a token issuer's public keys come from: a JWKS file or URL, cached.

Only asymmetric keys for the pinned algorithms are kept, so a symmetric ("oct") key published
by mistake can never verify anything. A token naming an unknown key id makes the URL be read
again, at most once per ``REFRESH_FLOOR`` seconds, so key rotation works without letting a
stream of forged key ids turn into a stream of fetches.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
from jwt import PyJWK, PyJWTError

from app import json_input
from app.config import JwtIssuer
from app.errors import AppError, PayloadTooLarge

logger = logging.getLogger("app.auth")

REFRESH_FLOOR = 30.0
FETCH_TIMEOUT = 5.0
# A key set holds a few keys of a few kilobytes each: a document far larger is not one.
MAX_JWKS_BYTES = 1_048_576


class JwksUnavailable(Exception):
    """The issuer's keys could not be read."""


async def _fetch(url: str) -> bytes:
    """The body at ``url``, read as it arrives and refused past MAX_JWKS_BYTES (a server may
    send no Content-Length, or a false one)."""
    async with (
        httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http,
        http.stream("GET", url) as response,
    ):
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise PayloadTooLarge(f"The key set at {url} is over {MAX_JWKS_BYTES} bytes.")
        return bytes(body)


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
        """The key set's JSON, read no further than MAX_JWKS_BYTES and parsed within
        app.json_input's bounds."""
        try:
            if self.issuer.jwks_path is not None:
                path = self.issuer.jwks_path
                raw = await asyncio.to_thread(json_input.read_file, path, max_bytes=MAX_JWKS_BYTES)
            else:
                assert self.issuer.jwks_url is not None
                raw = await _fetch(self.issuer.jwks_url)
            return json_input.loads(raw, max_bytes=MAX_JWKS_BYTES)
        except (OSError, ValueError, httpx.HTTPError, AppError) as exc:
            reason = exc.detail if isinstance(exc, AppError) else str(exc)
            logger.warning("JWKS of %s unreadable: %s", self.issuer.issuer, reason)
            raise JwksUnavailable(reason) from exc

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
            except PyJWTError:  # PyJWKError, or InvalidKeyError for a key that cannot be built
                continue
            if key.algorithm_name in self.algorithms:
                keys.append(key)
        return keys
