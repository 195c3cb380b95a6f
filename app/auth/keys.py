"""The API key format: ``lhs_<12 hex>_<43 url-safe characters>``.

The first part (``lhs_<12 hex>``) is the public prefix: stored in clear, unique, shown in lists
and logs, and what a request's key is looked up by. The rest is 32 random bytes, stored only as
its SHA-256. A slow password hash would add nothing: the secret is random, not guessable, so
the hash only has to be one-way, and SHA-256 keeps verification cheap on every request.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

SCHEME = "lhs"
_KEY = re.compile(rf"({SCHEME}_[0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    secret_hash: str
    key: str  # shown once, to whoever created it; never stored


def generate(prefix: str | None = None) -> NewKey:
    """A new key; or, given a key's prefix, a new secret for it (a rotation)."""
    prefix = prefix or f"{SCHEME}_{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    return NewKey(prefix=prefix, secret_hash=hash_secret(secret), key=f"{prefix}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(key: str) -> tuple[str, str] | None:
    """(prefix, secret), or None when the text is not shaped like one of our keys."""
    match = _KEY.fullmatch(key)
    return (match.group(1), match.group(2)) if match else None


def looks_like_key(credential: str) -> bool:
    return credential.startswith(f"{SCHEME}_")


def secret_matches(secret: str, secret_hash: str) -> bool:
    """Constant time, so response timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def accepts(
    secret: str,
    secret_hash: str,
    previous_hash: str | None,
    previous_until: datetime | None,
    *,
    now: datetime,
) -> bool:
    """The key's current secret, or the one a rotation replaced while its grace period lasts."""
    if secret_matches(secret, secret_hash):
        return True
    return (
        previous_hash is not None
        and previous_until is not None
        and now < previous_until
        and secret_matches(secret, previous_hash)
    )
