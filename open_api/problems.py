"""Errors of the Open API as RFC 9457 problem details (`application/problem+json`).

Every error the API answers, whatever raised it (a broken domain rule, a bad token, a body
that is not JSON, an unknown path), has the same shape: a `type` documented at /api/docs,
a zh-CN `title`, the `status`, a `detail`, and field `errors` for validation problems."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from marketplace.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from marketplace.i18n import N_, _
from server.errors import RETRY_AFTER_SECONDS, retry_headers, status_of

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# status → (slug of the type URI, title, default detail)
PROBLEM_TYPES: dict[int, tuple[str, str, str]] = {
    400: ("bad-request", N_("请求有误"), N_("请求无法解析，请检查请求体是否为有效的 JSON。")),
    401: ("unauthorized", N_("未认证"), N_("缺少访问令牌，或令牌无效、已过期。")),
    403: ("forbidden", N_("权限不足"), N_("访问令牌的授权范围不包含该操作。")),
    404: ("not-found", N_("资源不存在"), N_("资源不存在，或不属于贵机构。")),
    405: ("method-not-allowed", N_("请求方法不支持"), N_("该地址不支持这种请求方法。")),
    409: ("conflict", N_("操作与当前状态冲突"), N_("当前状态不允许该操作。")),
    422: ("validation", N_("请求内容未通过检查"), N_("请按 errors 中的说明修改后重试。")),
    429: ("rate-limited", N_("请求过于频繁"), N_("已超过每分钟请求上限，请稍后重试。")),
    500: ("server-error", N_("服务器内部错误"), N_("服务出现了问题，我们已记录，请稍后重试。")),
    503: ("unavailable", N_("服务暂时不可用"), N_("服务正在恢复，请稍后重试。")),
}


@dataclass(frozen=True)
class Problem:
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = None


def problem_type(status: int) -> str:
    return f"/api/docs#problem-{PROBLEM_TYPES.get(status, PROBLEM_TYPES[500])[0]}"


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    _slug, title, default_detail = PROBLEM_TYPES.get(status, PROBLEM_TYPES[500])
    return Response(
        Problem(
            type=problem_type(status),
            title=_(title),
            status=status,
            detail=detail or _(default_detail),
            errors=errors,
        ),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The OpenAPI description of the problems a route may answer (400, a body that is
    not JSON, always)."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            generate_examples=False,
            description=_(PROBLEM_TYPES[status][1]),
            media_type=PROBLEM_MEDIA_TYPE,
        )
        for status in (400, *statuses)
    }


def _unauthorized(request: Request, exc: Exception) -> Response:
    # RFC 6750 §3: a request without a usable token is told how to authenticate.
    error = getattr(exc, "headers", None) or {"WWW-Authenticate": 'Bearer realm="loanmart"'}
    return problem(401, headers=dict(error))


def _forbidden(request: Request, exc: Exception) -> Response:
    message = exc.message if isinstance(exc, PermissionDenied) else None
    headers = getattr(exc, "headers", None)
    return problem(403, message, headers=dict(headers) if headers else None)


def _not_found(request: Request, exc: Exception) -> Response:
    return problem(404, exc.message if isinstance(exc, NotFound) else None)


_MISSING = re.compile(r"missing required field `(\w+)`")
_AT_FIELD = re.compile(r"at `\$\.(\w+)")


def _field_error(item: dict[str, Any]) -> tuple[str, str]:
    """msgspec's English message → the field it names and a zh-CN message."""
    message = str(item.get("message", ""))
    if missing := _MISSING.search(message):
        return missing.group(1), _("缺少必填项")
    if at := _AT_FIELD.search(message):
        return at.group(1), _("该项的类型或取值不正确")
    return str(item.get("key") or item.get("source") or "body"), _("该项的类型或取值不正确")


def _invalid_request(request: Request, exc: ValidationException) -> Response:
    """Litestar's own checks of path, query, headers and body: a body that is not JSON is
    a 400; values of the wrong type or out of bounds are field errors (422)."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = dict(_field_error(item) for item in extra if isinstance(item, dict))
    if not errors:
        return problem(400)
    return problem(422, errors=errors)


def _domain_error(request: Request, exc: DomainError) -> Response:
    status = status_of(exc)
    errors = exc.errors if isinstance(exc, ValidationFailed) else None
    if errors is None and exc.field:
        errors = {exc.field: exc.message}
    return problem(status, exc.message, errors=errors, headers=retry_headers(exc) or None)


def _http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code if exc.status_code in PROBLEM_TYPES else 400
    return problem(status, headers=dict(exc.headers) if exc.headers else None)


def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("redis unavailable on %s: %s", request.url.path, type(exc).__name__)
    return problem(503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path)
    return problem(500)


EXCEPTION_HANDLERS = {
    NotAuthorizedException: _unauthorized,
    PermissionDeniedException: _forbidden,
    PermissionDenied: _forbidden,
    NotFoundException: _not_found,
    NotFound: _not_found,
    ValidationException: _invalid_request,
    DomainError: _domain_error,
    HTTPException: _http_error,
    RedisConnectionError: _unavailable,
    RedisTimeoutError: _unavailable,
    500: _server_error,
}
