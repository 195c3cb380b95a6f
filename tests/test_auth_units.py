"""The pure parts of access control: key format, roles, audit diffs, caches, links, settings."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from app.audit.service import diff
from app.auth import keycache, keys
from app.auth.headers import content_security_policy, cors_options
from app.auth.links import LinkSigner
from app.auth.principal import OPERATOR, Principal, may_grant_role
from app.auth.ratelimit import caller_key
from app.config import Settings
from app.errors import Unauthenticated
from app.vocabulary import PrincipalKind, Role

ORG = uuid.uuid4()


def principal(role: Role, organisation_id: uuid.UUID | None = ORG) -> Principal:
    return Principal(
        subject="lhs_0123456789ab",
        kind=PrincipalKind.API_KEY,
        role=role,
        organisation_id=organisation_id,
    )


def test_a_key_parses_back_into_its_prefix_and_secret() -> None:
    new = keys.generate()
    parsed = keys.parse(new.key)
    assert parsed is not None
    prefix, secret = parsed
    assert prefix == new.prefix
    assert new.key.startswith(prefix + "_")
    assert keys.secret_matches(secret, new.secret_hash)
    assert new.secret_hash != secret
    assert secret not in new.secret_hash
    assert len(secret) == 43  # 32 random bytes


def test_keys_are_unique_and_hashes_do_not_match_other_secrets() -> None:
    first, second = keys.generate(), keys.generate()
    assert first.key != second.key
    assert first.prefix != second.prefix
    second_secret = keys.parse(second.key)
    assert second_secret is not None
    assert not keys.secret_matches(second_secret[1], first.secret_hash)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "lhs_",
        "lhs_0123456789ab",
        "lhs_0123456789AB_" + "a" * 43,
        "xyz_0123456789ab_" + "a" * 43,
        "lhs_0123456789ab_" + "a" * 42,
        "lhs_0123456789ab_" + "a" * 43 + "\n",
    ],
)
def test_anything_not_shaped_like_a_key_is_not_parsed(text: str) -> None:
    assert keys.parse(text) is None


def test_roles_are_ordered_and_each_includes_the_weaker_ones() -> None:
    assert [r.rank for r in (Role.READER, Role.EDITOR, Role.ADMIN)] == [0, 1, 2]
    editor = principal(Role.EDITOR)
    assert editor.can(Role.READER)
    assert editor.can(Role.EDITOR)
    assert not editor.can(Role.ADMIN)


def test_only_admins_mint_keys_and_never_stronger_than_themselves() -> None:
    assert may_grant_role(principal(Role.ADMIN), Role.ADMIN)
    assert may_grant_role(principal(Role.ADMIN), Role.READER)
    assert not may_grant_role(principal(Role.EDITOR), Role.READER)
    assert not may_grant_role(principal(Role.READER), Role.READER)
    assert OPERATOR.is_global
    assert OPERATOR.can(Role.ADMIN)


def test_the_diff_names_each_changed_field_and_never_a_secret() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    before = {"name": "Old", "maturity": 2, "version": 1, "secret_hash": "abc", "tags": ["a"]}
    after = {
        "name": "New",
        "maturity": 2,
        "version": 2,
        "secret_hash": "def",
        "reviewed_at": moment,
        "owner_id": ORG,
        "role": Role.EDITOR,
        "tags": ["a", "b"],
    }
    assert diff(before, after) == [
        {"field": "name", "before": "Old", "after": "New"},
        {"field": "tags", "before": ["a"], "after": ["a", "b"]},
        {"field": "reviewed_at", "before": None, "after": "2026-01-02T03:04:05+00:00"},
        {"field": "owner_id", "before": None, "after": str(ORG)},
        {"field": "role", "before": None, "after": "editor"},
    ]


def test_a_create_and_a_delete_diff_against_nothing() -> None:
    assert diff({}, {"name": "A", "key": "lhs_secret"}) == [
        {"field": "name", "before": None, "after": "A"}
    ]
    assert diff({"name": "A"}, {}) == [{"field": "name", "before": "A", "after": None}]
    assert diff({"name": "A"}, {"name": "A"}) == []


def test_the_key_cache_forgets_after_its_time_to_live_and_on_revocation() -> None:
    cache, other = keycache.KeyCache(0.2), keycache.KeyCache(60)
    p = principal(Role.READER)
    cache.put("lhs_a", p, "hash", None)
    other.put("lhs_a", p, "hash", None)
    other.put("lhs_b", p, "hash", None)
    assert cache.get("lhs_a") is not None
    time.sleep(0.25)
    assert cache.get("lhs_a") is None
    keycache.forget("lhs_a")  # every cache in the process
    assert other.get("lhs_a") is None
    assert other.get("lhs_b") is not None
    keycache.forget_organisation(ORG)
    assert other.get("lhs_b") is None


def test_a_zero_time_to_live_caches_nothing() -> None:
    cache = keycache.KeyCache(0)
    cache.put("lhs_a", principal(Role.READER), "hash", None)
    assert cache.get("lhs_a") is None


def signer(secret: str = "s" * 32) -> LinkSigner:
    return LinkSigner(Settings(link_secret=secret, link_ttl_seconds=60))


def test_a_signed_link_is_a_read_only_principal_with_the_signers_scope() -> None:
    token = signer().sign(principal(Role.ADMIN), "/v1/organisations/x/report")
    link = signer().verify(token, "/v1/organisations/x/report").principal()
    assert link.kind is PrincipalKind.LINK
    assert link.role is Role.READER
    assert link.organisation_id == ORG
    assert link.subject == "lhs_0123456789ab"
    global_link = signer().verify(signer().sign(OPERATOR, "/p"), "/p").principal()
    assert global_link.organisation_id is None


def test_a_link_works_for_its_own_path_only_and_until_it_expires() -> None:
    token = signer().sign(principal(Role.READER), "/a")
    with pytest.raises(Unauthenticated, match="not valid for this page"):
        signer().verify(token, "/b")
    with pytest.raises(Unauthenticated, match="not valid"):
        signer("t" * 32).verify(token, "/a")  # signed with another secret
    with pytest.raises(Unauthenticated, match="not valid"):
        signer().verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "/a")
    expired = signer().sign(principal(Role.READER), "/a", ttl=timedelta(seconds=-1))
    with pytest.raises(Unauthenticated, match="expired"):
        signer().verify(expired, "/a")


def test_production_refuses_to_start_without_authentication() -> None:
    with pytest.raises(ValidationError, match="auth_enabled cannot be false in production"):
        Settings(environment="production", auth_enabled=False, link_secret="x" * 32)
    with pytest.raises(ValidationError, match="link_secret must be set"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="cannot be '\\*' in production"):
        Settings(environment="production", link_secret="x" * 32, cors_origins=["*"])
    assert Settings(environment="development", auth_enabled=False).auth_enabled is False
    assert Settings().environment == "development"
    assert Settings().auth_enabled


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(rate_limit="lots")
    with pytest.raises(ValidationError, match="'\\*' alone"):
        Settings(cors_origins=["*", "https://portal.example"])
    with pytest.raises(ValidationError, match="exactly one of jwksUrl, jwksPath"):
        Settings.model_validate({"jwt_issuers": [{"issuer": "https://idp"}]})
    with pytest.raises(ValidationError):
        Settings.model_validate({"jwt_algorithms": ["HS256"]})


def test_cors_never_allows_credentials() -> None:
    options = cors_options(Settings(cors_origins=["*"]))
    assert options["allow_credentials"] is False
    assert "Authorization" in options["allow_headers"]


def test_the_content_security_policy_allows_only_the_nonce_and_configured_framers() -> None:
    policy = content_security_policy("n0nce", ["https://portal.example"])
    assert "script-src 'self' 'nonce-n0nce'" in policy
    assert "frame-ancestors https://portal.example" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in content_security_policy("n", [])


def test_rate_limits_count_per_credential_or_per_address() -> None:
    scope = {"client": ("203.0.113.9", 5000)}
    assert caller_key(None, scope) == "ip:203.0.113.9"
    assert caller_key(principal(Role.READER), scope) == "api_key:lhs_0123456789ab"
    token = Principal(subject="u1", kind=PrincipalKind.TOKEN, role=Role.READER, issuer="https://a")
    assert caller_key(token, scope) == "token:https://a:u1"
    assert caller_key(OPERATOR, scope) == "ip:203.0.113.9"  # authentication off: by address


def test_a_link_and_its_session_never_pass_for_each_other() -> None:
    link = signer().verify(signer().sign(principal(Role.READER), "/r"), "/r")
    session, seconds = signer().open_session(link)
    assert 0 < seconds <= 60  # the link's remaining time, under the cookie's own bound
    opened = signer().verify_session([session], "/r")
    assert opened.prefix == "/r"
    assert opened.jti != link.jti  # each exchange has CSRF tokens of its own
    with pytest.raises(Unauthenticated, match="not valid"):
        signer().verify(session, "/r")
    with pytest.raises(Unauthenticated, match="not valid"):
        signer().verify_session([signer().sign(principal(Role.READER), "/r")], "/r")


def test_a_prefix_opens_itself_and_what_is_below_it_at_a_slash() -> None:
    link = signer().verify(signer().sign(OPERATOR, "/v1/o/x/report"), "/v1/o/x/report")
    assert link.covers("/v1/o/x/report/sign-out")
    assert not link.covers("/v1/o/x/reports")
    assert not link.covers("/v1/o/x/report-link")
    assert not link.covers("/v1/o/x")
    assert link.allows("GET")
    assert link.allows("HEAD")
    assert not link.allows("POST")


def test_a_csrf_token_is_bound_to_one_session_and_one_secret() -> None:
    link = signer().verify(signer().sign(OPERATOR, "/r"), "/r")
    first = signer().verify_session([signer().open_session(link)[0]], "/r")
    second = signer().verify_session([signer().open_session(link)[0]], "/r")
    token = signer().csrf_token(first)
    assert signer().csrf_matches(first, token)
    assert not signer().csrf_matches(second, token)
    assert not signer("t" * 32).csrf_matches(first, token)
    assert not signer().csrf_matches(first, None)
    assert not signer().csrf_matches(first, "")
