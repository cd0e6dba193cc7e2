"""Error pages in the product's design; domain errors mapped to HTTP."""

from __future__ import annotations

import logging
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.response import Redirect, Template
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from marketplace.accounts.services import principal_view
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Refused,
    Throttled,
    ValidationFailed,
)
from marketplace.i18n import N_, _
from server.auth import loaded_actor
from server.rendering import audience_of

log = logging.getLogger(__name__)

LOGIN_ROUTES = {"portal": "/login", "console": "/console/login", "admin": "/admin/login"}

TITLES = {
    400: (N_("请求有误"), N_("提交的内容无法处理，请检查后重试。")),
    403: (N_("无权访问"), N_("您没有访问该页面的权限。如需开通，请联系管理员。")),
    404: (N_("页面不存在"), N_("您访问的页面不存在，或已被删除。")),
    405: (N_("请求有误"), N_("该页面不支持这种访问方式。")),
    409: (N_("操作未完成"), N_("当前状态不允许该操作，请刷新页面后重试。")),
    422: (N_("提交的内容有误"), N_("提交的内容未通过检查，请返回修改后重试。")),
    429: (N_("操作过于频繁"), N_("请稍后再试。")),
    500: (N_("系统繁忙"), N_("服务出现了问题，我们已记录。请稍后再试。")),
    503: (
        N_("服务暂时不可用"),
        N_("系统正在恢复，请稍等片刻后刷新页面。已提交成功的申请不会丢失。"),
    ),
}
# How long a client should wait when a backing service (Redis) is down.
RETRY_AFTER_SECONDS = 30


def error_page(request: Request, status_code: int, message: str | None = None) -> Response:
    title, default_message = TITLES.get(status_code, TITLES[500])
    template = (
        f"errors/{status_code}.html" if status_code in (403, 404, 500) else "errors/error.html"
    )
    # The 403 page's copy and the header's menus depend on who is signed in.
    actor = loaded_actor(request)
    return Template(
        template_name=template,
        context={
            "audience": audience_of(request.url.path),
            "principal": principal_view(actor) if actor else None,
            "flashes": [],
            "status_code": status_code,
            "title": _(title),
            "message": message or _(default_message),
            "detail": message,
        },
        status_code=status_code,
        headers={"Vary": "HX-Request"},
    )


def not_authorized(request: Request, exc: Exception) -> Response:
    login = LOGIN_ROUTES[audience_of(request.url.path)]
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{login}?next={quote(path, safe='')}"
    if request.headers.get("hx-request") == "true":
        return Response(content=b"", status_code=401, headers={"HX-Redirect": target})
    return Redirect(path=target, status_code=303)


def permission_denied(request: Request, exc: Exception) -> Response:
    detail = getattr(exc, "detail", "")
    if "CSRF" in str(detail):
        return error_page(request, 403, _("页面已过期或来源不明，请刷新页面后重新提交。"))
    return error_page(request, 403)


def not_found(request: Request, exc: Exception) -> Response:
    message = exc.message if isinstance(exc, NotFound) else None
    return error_page(request, 404, message)


def status_of(exc: DomainError) -> int:
    """The one mapping of broken rules to HTTP, for pages without a form to re-render."""
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, InvalidTransition):
        return 409
    if isinstance(exc, Refused):
        return 403
    if isinstance(exc, ValidationFailed) or exc.field:
        return 422
    return 409


def form_status(exc: DomainError) -> int:
    """The same mapping for a form re-rendered with its errors (server.forms.submit_form)."""
    status = status_of(exc)
    return 400 if status == 422 else status


def retry_headers(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, Throttled) and exc.retry_after:
        return {"Retry-After": str(max(1, exc.retry_after))}
    return {}


def domain_error(request: Request, exc: DomainError) -> Response:
    response = error_page(request, status_of(exc), exc.message)
    response.headers.update(retry_headers(exc))
    return response


def http_error(request: Request, exc: HTTPException) -> Response:
    return error_page(request, exc.status_code if exc.status_code in TITLES else 400)


def service_unavailable(request: Request, exc: Exception) -> Response:
    """Redis (sessions, throttles) is down: a clear 503 the client may retry, not a 500."""
    log.warning("redis unavailable on %s: %s", request.url.path, type(exc).__name__)
    response = error_page(request, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path)
    return error_page(request, 500)


EXCEPTION_HANDLERS = {
    NotAuthorizedException: not_authorized,
    PermissionDeniedException: permission_denied,
    PermissionDenied: permission_denied,
    NotFoundException: not_found,
    NotFound: not_found,
    DomainError: domain_error,
    HTTPException: http_error,
    RedisConnectionError: service_unavailable,
    RedisTimeoutError: service_unavailable,
    500: server_error,
}
