"""Verbs on API clients: create (the secret shown once), revoke; issuing and resolving
bearer tokens for the OAuth2 client-credentials flow; the per-client rate limit; and
Idempotency-Key replay for the Open API's POSTs.

Secrets and tokens are 256-bit random strings, so a keyed hash (HMAC-SHA256, the security
module's blind index) protects them as well as a slow password hash would, and keeps the
token endpoint cheap: a password hash there would let anyone burn CPU with wrong secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marketplace.accounts.limits import Limit, reserve
from marketplace.actors import Actor
from marketplace.api_clients.scopes import SCOPES, permissions_for
from marketplace.api_clients.tables import ApiClient, ApiIdempotentRequest, ApiToken
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied, Throttled
from marketplace.i18n import _
from marketplace.parameters.services import get_parameters
from marketplace.parsing import FieldError, FormReader, column_length, parse_text
from marketplace.security import blind_index

MANAGE_PERMISSION = "api_client.manage"
CLIENT_ID_PREFIX = "lmc_"
_SECRET_PURPOSE = "api-client-secret"  # noqa: S105 - a hash purpose, not a secret
_TOKEN_PURPOSE = "api-access-token"  # noqa: S105 - a hash purpose, not a secret
# An institution's live clients: enough for every system it runs, few enough to review.
MAX_ACTIVE_CLIENTS = 20
# The first key of the advisory lock that serialises creating clients (any fixed int4).
_CREATE_LOCK = 6_100_001
# `last_used_at` is written at most this often per client, not on every call.
_LAST_USED_EVERY = timedelta(minutes=1)


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with a different request (422)."""


def _keyed_hash(value: str, purpose: str) -> str:
    return blind_index(value, purpose=purpose)


@dataclass(frozen=True)
class ClientForm:
    name: str
    scopes: tuple[str, ...]


def _parse_scopes(raw: Any, *, label: str) -> tuple[str, ...]:
    values = raw if isinstance(raw, list | tuple) else [] if raw is None else [raw]
    chosen = {str(value) for value in values}
    if not chosen or not chosen <= SCOPES.keys():
        raise FieldError(_("请选择{label}", label=label))
    return tuple(scope for scope in SCOPES if scope in chosen)


def parse_client_form(data: Mapping[str, Any]) -> ClientForm:
    form = FormReader(data)
    name = form.field(
        "name",
        parse_text,
        "",
        label=_("客户端名称"),
        min_length=1,
        max_length=column_length(ApiClient.name),
    )
    scopes: tuple[str, ...] = form.field("scopes", _parse_scopes, (), label=_("授权范围"))
    form.raise_errors()
    return ClientForm(name=name, scopes=scopes)


@dataclass(frozen=True)
class NewClient:
    id: int
    client_id: str
    secret: str  # shown once, never stored


async def create_client(
    actor: Actor, form: ClientForm, *, credentials: tuple[str, str] | None = None
) -> NewClient:
    """An institution admin creates an API client of their institution. `credentials`
    (client_id, secret) is for demo data, whose secret is printed in the README."""
    if not actor.can(MANAGE_PERMISSION) or actor.institution_id is None:
        raise PermissionDenied()
    client_id, secret = credentials or (
        CLIENT_ID_PREFIX + secrets.token_hex(12),
        secrets.token_urlsafe(32),
    )
    async with transaction():
        # One creation at a time per institution, so parallel requests cannot pass the
        # count together (the lock ends with the transaction).
        await ApiClient.raw(
            "SELECT pg_advisory_xact_lock({}, {})", _CREATE_LOCK, actor.institution_id
        )
        active = await ApiClient.count().where(
            (ApiClient.institution == actor.institution_id) & ApiClient.revoked_at.is_null()
        )
        if active >= MAX_ACTIVE_CLIENTS:
            raise DomainError(
                _("最多可同时启用 {n} 个客户端，请先吊销不用的客户端", n=MAX_ACTIVE_CLIENTS),
                field="name",
            )
        rows = await ApiClient.insert(
            ApiClient(
                institution=actor.institution_id,
                name=form.name,
                client_id=client_id,
                secret_hash=_keyed_hash(secret, _SECRET_PURPOSE),
                scopes=list(form.scopes),
                created_by=actor.user_id,
            )
        ).returning(ApiClient.id)
        pk = int(rows[0]["id"])
        await audit(
            actor, "api_client.create", "api_client", pk, client_id=client_id, scopes=form.scopes
        )
    return NewClient(id=pk, client_id=client_id, secret=secret)


async def revoke_client(actor: Actor, client_pk: int) -> None:
    """Revoke one of the institution's clients; its tokens stop working at once."""
    if not actor.can(MANAGE_PERMISSION):
        raise PermissionDenied()
    async with transaction():
        row = (
            await ApiClient.select(ApiClient.id, ApiClient.client_id, ApiClient.revoked_at)
            .where((ApiClient.id == client_pk) & (ApiClient.institution == actor.institution_id))
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("找不到该客户端"))
        if row["revoked_at"] is not None:
            return
        await ApiClient.update({ApiClient.revoked_at: datetime.now(UTC)}).where(
            ApiClient.id == client_pk
        )
        await ApiToken.delete().where(ApiToken.client == client_pk)
        await audit(actor, "api_client.revoke", "api_client", client_pk, client_id=row["client_id"])


@dataclass(frozen=True)
class ClientCredential:
    """What the token endpoint needs to know about a live client."""

    id: int
    client_id: str
    name: str
    institution_id: int
    institution_name: str
    scopes: tuple[str, ...]
    secret_hash: str

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, _keyed_hash(secret, _SECRET_PURPOSE))


async def live_client(client_id: str) -> ClientCredential | None:
    """A client that is not revoked, of an active institution; None otherwise."""
    if not (
        client_id
        and len(client_id) <= column_length(ApiClient.client_id)
        and client_id.isascii()
        and client_id.isprintable()
    ):
        return None  # names no client (and a NUL would upset PostgreSQL)
    row = (
        await ApiClient.select(
            ApiClient.id,
            ApiClient.client_id,
            ApiClient.name,
            ApiClient.scopes,
            ApiClient.secret_hash,
            ApiClient.institution.id.as_alias("institution_id"),
            ApiClient.institution.short_name.as_alias("institution_name"),
        )
        .where(
            (ApiClient.client_id == client_id)
            & ApiClient.revoked_at.is_null()
            & (ApiClient.institution.status == "active")
        )
        .first()
    )
    if row is None:
        return None
    return ClientCredential(
        id=row["id"],
        client_id=row["client_id"],
        name=row["name"],
        institution_id=row["institution_id"],
        institution_name=row["institution_name"],
        scopes=tuple(row["scopes"]),
        secret_hash=row["secret_hash"],
    )


def _client_actor(client: ClientCredential, scopes: tuple[str, ...]) -> Actor:
    return Actor(
        user_id=None,
        kind="api_client",
        label=f"API {client.name} ({client.client_id})"[:120],
        role="api_client",
        institution_id=client.institution_id,
        institution_name=client.institution_name,
        permissions=permissions_for(scopes),
    )


async def token_lifetime_seconds() -> int:
    return int((await get_parameters("api_token_minutes"))["api_token_minutes"]) * 60


async def save_token(
    client: ClientCredential, access_token: str, scopes: tuple[str, ...], expires_in: int
) -> None:
    """Keep an issued bearer token (its keyed hash) until it expires; audited."""
    now = datetime.now(UTC)
    async with transaction():
        await ApiToken.insert(
            ApiToken(
                client=client.id,
                token_hash=_keyed_hash(access_token, _TOKEN_PURPOSE),
                scopes=list(scopes),
                issued_at=now,
                expires_at=now + timedelta(seconds=expires_in),
            )
        )
        await ApiClient.update({ApiClient.last_used_at: now}).where(ApiClient.id == client.id)
        await audit(
            _client_actor(client, scopes),
            "api_client.token",
            "api_client",
            client.id,
            scopes=scopes,
        )


@dataclass(frozen=True)
class ApiPrincipal:
    """The client behind a valid bearer token, and the Actor its calls act as."""

    client_pk: int
    scopes: frozenset[str]
    actor: Actor


async def principal_for_token(token: str, *, ip: str, request_id: str) -> ApiPrincipal | None:
    """The caller of a live token (unexpired, client not revoked); None otherwise."""
    if not token or len(token) > 200:
        return None
    now = datetime.now(UTC)
    row = (
        await ApiToken.select(
            ApiToken.scopes,
            ApiToken.client.id.as_alias("id"),
            ApiToken.client.client_id.as_alias("client_id"),
            ApiToken.client.name.as_alias("name"),
            ApiToken.client.last_used_at.as_alias("last_used_at"),
            ApiToken.client._.institution._.id.as_alias("institution_id"),
            ApiToken.client._.institution._.short_name.as_alias("institution_name"),
        )
        .where(
            (ApiToken.token_hash == _keyed_hash(token, _TOKEN_PURPOSE))
            & (ApiToken.expires_at > now)
            & ApiToken.client.revoked_at.is_null()
            & (ApiToken.client._.institution._.status == "active")
        )
        .first()
    )
    if row is None:
        return None
    if row["last_used_at"] is None or now - row["last_used_at"] > _LAST_USED_EVERY:
        # A usage stamp, not a state change of the client: not audited.
        await ApiClient.update({ApiClient.last_used_at: now}).where(ApiClient.id == row["id"])
    scopes = tuple(row["scopes"])
    client = ClientCredential(
        id=row["id"],
        client_id=row["client_id"],
        name=row["name"],
        institution_id=row["institution_id"],
        institution_name=row["institution_name"],
        scopes=scopes,
        secret_hash="",
    )
    actor = _client_actor(client, scopes).with_request(ip, request_id)
    return ApiPrincipal(client_pk=row["id"], scopes=frozenset(scopes), actor=actor)


async def check_rate(client_pk: int) -> None:
    """Count one request of the client against its per-minute limit (Throttled past it)."""
    limit = int((await get_parameters("api_requests_per_minute"))["api_requests_per_minute"])
    wait = await reserve(Limit(f"api:rate:{client_pk}", limit, 60))
    if wait:
        raise Throttled(_("请求过于频繁，请 {n} 秒后重试", n=wait), retry_after=wait)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    replayed: bool


async def idempotent(
    client_pk: int,
    key: str,
    fingerprint: str,
    perform: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> StoredResponse:
    """Run `perform` once per (client, key): its effect and the stored answer commit in one
    transaction. A concurrent request with the same key waits on the unique index and then
    replays the answer; the same key with another request is IdempotencyKeyReused. A
    rule `perform` breaks rolls everything back, so a corrected retry may reuse the key."""
    async with transaction():
        claimed = (
            await ApiIdempotentRequest.insert(
                ApiIdempotentRequest(
                    client=client_pk, key=key, request_hash=fingerprint, status_code=0
                )
            )
            .on_conflict(
                target=(ApiIdempotentRequest.client, ApiIdempotentRequest.key),
                action="DO NOTHING",
            )
            .returning(ApiIdempotentRequest.id)
        )
        if not claimed:
            earlier = (
                await ApiIdempotentRequest.select(
                    ApiIdempotentRequest.request_hash,
                    ApiIdempotentRequest.status_code,
                    ApiIdempotentRequest.response,
                )
                .where(
                    (ApiIdempotentRequest.client == client_pk) & (ApiIdempotentRequest.key == key)
                )
                .output(load_json=True)
                .first()
            )
            if earlier is None or earlier["request_hash"] != fingerprint:
                raise IdempotencyKeyReused(
                    _("该 Idempotency-Key 已用于另一个请求，请为新请求使用新的键"),
                    field="Idempotency-Key",
                )
            return StoredResponse(earlier["status_code"], earlier["response"], replayed=True)
        status_code, body = await perform()
        await ApiIdempotentRequest.update(
            {ApiIdempotentRequest.status_code: status_code, ApiIdempotentRequest.response: body}
        ).where(ApiIdempotentRequest.id == claimed[0]["id"])
    return StoredResponse(status_code, body, replayed=False)


async def purge_expired() -> int:
    """Drop expired tokens and idempotency answers past their keeping time."""
    hours = int((await get_parameters("api_idempotency_hours"))["api_idempotency_hours"])
    now = datetime.now(UTC)
    tokens = await ApiToken.delete().where(ApiToken.expires_at < now).returning(ApiToken.id)
    answers = (
        await ApiIdempotentRequest.delete()
        .where(ApiIdempotentRequest.created_at < now - timedelta(hours=hours))
        .returning(ApiIdempotentRequest.id)
    )
    return len(tokens) + len(answers)
