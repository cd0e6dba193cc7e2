"""Every POST of the API goes through `answer`: an optional Idempotency-Key makes a retry
replay the first answer instead of acting twice (see api_clients.services.idempotent)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.params import HeaderParameter

from marketplace.api_clients.services import idempotent, request_fingerprint
from marketplace.errors import DomainError
from marketplace.i18n import N_, _
from open_api.auth import principal

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        min_length=1,
        max_length=200,
        description=N_("同一键重试时返回首次的结果而不重复执行；键与请求内容绑定，保留 24 小时。"),
    ),
]


async def answer(
    request: Request,
    key: str | None,
    status_code: int,
    act: Callable[[], Awaitable[Any]],
) -> Response[Any]:
    """Run `act` (one service verb) and answer its result as JSON with `status_code`."""

    async def perform() -> tuple[int, dict[str, Any]]:
        return status_code, msgspec.to_builtins(await act())

    if key is None:
        _status, body = await perform()
        return Response(body, status_code=status_code)
    if not (key.isascii() and key.isprintable()):
        raise DomainError(_("Idempotency-Key 只能包含可见的 ASCII 字符"), field="Idempotency-Key")
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    stored = await idempotent(principal(request).client_pk, key, fingerprint, perform)
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return Response(stored.body, status_code=stored.status_code, headers=headers)
