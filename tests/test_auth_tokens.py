"""Bearer JWTs: the tests make their own issuer (RSA and EC keys, a JWKS file or URL) and sign
tokens with it; every forged, stale or misdirected token is Unauthenticated."""

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from app.auth.authenticate import Authenticator
from app.auth.principal import Principal
from app.auth.tokens import TokenVerifier
from app.config import JwtIssuer, Settings
from app.errors import Unauthenticated
from app.vocabulary import PrincipalKind, Role
from tests.conftest import Backend
from tests.helpers import create_organisation
from tests.test_auth_keys import sessions_of

ISSUER = "https://login.example.nhs.uk"
ORG = uuid.UUID("5b0e3c1e-8f4e-4d8a-9f65-0c1d2e3f4a5b")

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    rsa_jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True) | {"kid": "rsa-1"}
    ec_jwk = ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True) | {"kid": "ec-1"}
    return {"keys": [rsa_jwk, ec_jwk]}


@pytest.fixture
def jwks_path(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks()))
    return path


def settings(path: Path, **overrides: Any) -> Settings:
    issuer = JwtIssuer(
        issuer=ISSUER, jwks_path=path, allow_global=overrides.pop("allow_global", False)
    )
    return Settings(jwt_issuers=[issuer], jwt_leeway_seconds=0, **overrides)


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "iss": ISSUER,
        "aud": "lhs-asset-map",
        "sub": "portal-user-1",
        "iat": now,
        "nbf": now - timedelta(seconds=5),
        "exp": now + timedelta(minutes=5),
        "role": "editor",
        "organisation": str(ORG),
    } | overrides


def sign(
    payload: dict[str, Any], *, key: Any = RSA_KEY, alg: str = "RS256", kid: str = "rsa-1"
) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


async def no_ods(code: str) -> uuid.UUID | None:
    raise AssertionError(f"no ODS lookup expected, got {code}")


async def verify(path: Path, token: str, **overrides: Any) -> Principal:
    return await TokenVerifier(settings(path, **overrides)).verify(token, no_ods)


async def test_a_valid_token_is_a_principal_with_its_role_and_scope(jwks_path: Path) -> None:
    principal = await verify(jwks_path, sign(claims()))
    assert principal == Principal(
        subject="portal-user-1",
        kind=PrincipalKind.TOKEN,
        role=Role.EDITOR,
        organisation_id=ORG,
        issuer=ISSUER,
    )
    ec_token = sign(claims(role="reader"), key=EC_KEY, alg="ES256", kid="ec-1")
    assert (await verify(jwks_path, ec_token)).role is Role.READER


async def test_claim_names_are_configurable_and_a_role_list_takes_the_strongest(
    jwks_path: Path,
) -> None:
    token = sign(claims(roles=["reader", "admin", "superuser"], ics=str(ORG)))
    principal = await verify(jwks_path, token, jwt_role_claim="roles", jwt_organisation_claim="ics")
    assert principal.role is Role.ADMIN
    assert principal.organisation_id == ORG


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def alg_none(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).decode().rstrip("=")

    body = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in payload.items()}
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{part(body)}."


def hs256_with_public_key(payload: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed by the issuer's (public) RSA key."""
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    signing = jwt.api_jws.PyJWS()
    signing._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]
    body = json.dumps(
        {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in payload.items()}
    ).encode()
    return signing.encode(body, public_pem, algorithm="HS256", headers=header)


BAD_TOKENS: dict[str, tuple[Callable[[], str], str]] = {
    "expired": (lambda: sign(claims(exp=datetime.now(UTC) - timedelta(seconds=1))), "expired"),
    "not yet valid": (
        lambda: sign(claims(nbf=datetime.now(UTC) + timedelta(minutes=5))),
        "not valid yet",
    ),
    "wrong issuer": (lambda: sign(claims(iss="https://evil.example")), "issuer is not trusted"),
    "wrong audience": (lambda: sign(claims(aud="another-api")), "another audience"),
    "tampered": (lambda: tamper(sign(claims())), "signature does not match"),
    "alg none": (lambda: alg_none(claims()), "'none' are not accepted"),
    "HS256 with the public key": (
        lambda: hs256_with_public_key(claims()),
        "'HS256' are not accepted",
    ),
    "unknown signing key": (
        lambda: sign(claims(), key=OTHER_RSA_KEY, kid="rsa-2"),
        "not signed by a key",
    ),
    "right kid, other key": (lambda: sign(claims(), key=OTHER_RSA_KEY), "signature does not match"),
    "no expiry": (lambda: sign({k: v for k, v in claims().items() if k != "exp"}), "'exp' claim"),
    "no subject": (lambda: sign({k: v for k, v in claims().items() if k != "sub"}), "'sub' claim"),
    "no role": (lambda: sign(claims(role="superuser")), "carries no role"),
    "no organisation": (lambda: sign(claims(organisation=None)), "names no organisation"),
    "not a token": (lambda: "not.a.token", "malformed"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_tokens_are_unauthenticated(jwks_path: Path, case: str) -> None:
    make, message = BAD_TOKENS[case]
    with pytest.raises(Unauthenticated, match=message) as refused:
        await verify(jwks_path, make())
    assert refused.value.status == 401
    assert refused.value.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_without_organisation_is_global_only_where_the_issuer_may_grant_it(
    jwks_path: Path,
) -> None:
    token = sign({k: v for k, v in claims().items() if k != "organisation"})
    with pytest.raises(Unauthenticated, match="names no organisation"):
        await verify(jwks_path, token)
    assert (await verify(jwks_path, token, allow_global=True)).organisation_id is None


async def test_pinned_algorithms_exclude_the_rest(jwks_path: Path) -> None:
    ec_token = sign(claims(), key=EC_KEY, alg="ES256", kid="ec-1")
    with pytest.raises(Unauthenticated, match="'ES256' are not accepted"):
        await verify(jwks_path, ec_token, jwt_algorithms=["RS256"])


async def test_the_organisation_claim_may_be_an_ods_code(
    client: httpx.AsyncClient, backend: Backend, jwks_path: Path
) -> None:
    trust = await create_organisation(client, name="Leeds", odsCode="RR8")
    auth = Authenticator(settings(jwks_path, database_url=backend.url))
    principal = await auth.authenticate(
        sessions_of(backend).reads, f"Bearer {sign(claims(organisation='rr8'))}"
    )
    assert principal.organisation_id == uuid.UUID(trust["id"])
    with pytest.raises(Unauthenticated, match="names no known organisation"):
        await auth.authenticate(
            sessions_of(backend).reads, f"Bearer {sign(claims(organisation='XX9'))}"
        )


class JwksHandler(BaseHTTPRequestHandler):
    document: dict[str, Any] = {}
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        body = json.dumps(self.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[str]:
    JwksHandler.document, JwksHandler.requests = jwks(), 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


async def test_keys_are_read_from_a_url_once_and_cached(jwks_url: str) -> None:
    verifier = TokenVerifier(Settings(jwt_issuers=[JwtIssuer(issuer=ISSUER, jwks_url=jwks_url)]))
    for _ in range(3):
        assert (await verifier.verify(sign(claims()), no_ods)).subject == "portal-user-1"
    assert JwksHandler.requests == 1


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "document",
    [
        {"keys": jwks()["keys"], "padding": "x" * 2_000_000},
        {"keys": jwks()["keys"], "nested": nested(100)},
    ],
    ids=["over 1 MiB", "nested 100 deep"],
)
async def test_a_jwks_url_is_read_within_bounds(jwks_url: str, document: dict[str, Any]) -> None:
    """A key set is a few kilobytes: one far larger, or nested deep, is not read as one."""
    JwksHandler.document = document
    verifier = TokenVerifier(Settings(jwt_issuers=[JwtIssuer(issuer=ISSUER, jwks_url=jwks_url)]))
    with pytest.raises(Unauthenticated, match="keys cannot be read"):
        await verifier.verify(sign(claims()), no_ods)


async def test_an_unreachable_jwks_refuses_the_token(tmp_path: Path) -> None:
    with pytest.raises(Unauthenticated, match="keys cannot be read"):
        await verify(tmp_path / "missing.json", sign(claims()))


async def test_symmetric_keys_published_in_the_jwks_are_ignored(tmp_path: Path) -> None:
    secret = b"shared-secret-shared-secret-0123"
    oct_key = {
        "kty": "oct",
        "kid": "hs",
        "k": base64.urlsafe_b64encode(secret).decode().rstrip("="),
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [oct_key]}))
    token = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "hs"})
    with pytest.raises(Unauthenticated, match="not accepted"):
        await verify(path, token)
