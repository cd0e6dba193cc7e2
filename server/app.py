"""Composition root: create_app() wires routers, middleware, templates and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from admin import admin_router
from institution_console import console_router
from marketplace import cache
from marketplace.db import engine
from marketplace.products.search_port import backend
from marketplace.settings import PROJECT_ROOT, settings
from open_api.docs import api_docs, api_mount
from portal import portal_router
from server import behaviour
from server.auth import access_guard, register_route_permissions_of
from server.demo_webhooks import demo_webhook_receiver
from server.device import DeviceCookieMiddleware
from server.errors import EXCEPTION_HANDLERS
from server.forms import path_params_guard
from server.lifecycle import frozen_heap, start_services, stop_services
from server.logs import RequestContextMiddleware, configure_logging
from server.metrics import MetricsMiddleware, metrics
from server.page_cache import PageCacheMiddleware, route_paths
from server.security_headers import SecurityHeadersMiddleware
from server.sessions import SessionMiddleware
from server.templating import make_environment

CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"


@get(
    "/healthz", opt={"access": "public", "session": False}, name="health.live", sync_to_thread=False
)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", opt={"access": "public", "session": False}, name="health.ready")
async def readyz() -> Response:
    checks: dict[str, str] = {}
    try:
        await engine().run_ddl("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = type(exc).__name__
    try:
        await cache.redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = type(exc).__name__
    try:
        await backend().count()
        checks["search"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["search"] = type(exc).__name__
    ready = all(value == "ok" for value in checks.values())
    return Response(content={"ready": ready, **checks}, status_code=200 if ready else 503)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    settings.check_production()
    # Each uvicorn worker process (spawned) configures its own JSON logging.
    configure_logging()
    await start_services()
    try:
        with frozen_heap():
            yield
    finally:
        await behaviour.flush()
        await stop_services()


def create_app() -> Litestar:
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="csrftoken",
        cookie_secure=settings.secure_cookies,
        cookie_samesite="lax",
        header_name=CSRF_HEADER,
        # The Open API authenticates with bearer tokens, which browsers never attach
        # on their own: no cross-site request can carry one.
        exclude=["^/api/(oauth|v1)/"],
    )
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            portal_router,
            console_router,
            admin_router,
            api_mount,
            api_docs,
            *([demo_webhook_receiver] if settings.demo_mode else []),
            create_static_files_router(
                path="/static",
                directories=[PROJECT_ROOT / "static"],
                name="static",
                opt={"access": "public"},
                # URLs carry a content hash (static_url), so browsers may keep them a year.
                cache_control=CacheControlHeader(max_age=31_536_000, public=True),
            ),
        ],
        guards=[access_guard, path_params_guard],
        middleware=[DefineMiddleware(SessionMiddleware)],
        csrf_config=csrf,
        template_config=TemplateConfig(
            engine=JinjaTemplateEngine.from_environment(make_environment())
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=None,
        # Logging is ours (server.logs: JSON, redacted, on the root logger). Litestar's
        # default config would add its own root handler, writing every line a second
        # time in plain text through a queue thread that contends for the GIL on each
        # access line; with debug off it logs no exceptions of its own either.
        logging_config=None,
        debug=False,
    )
    # Anonymous pages from memory, before routing (issue 14); inside the device cookie,
    # whose id the behaviour events of a cached page are recorded under.
    app.asgi_handler = PageCacheMiddleware(app.asgi_handler, csrf, route_paths(app))
    # The device cookie's id reaches the actor (anti-fraud velocity by device, A8).
    app.asgi_handler = DeviceCookieMiddleware(app.asgi_handler)
    register_route_permissions_of(app)
    # Around Litestar's own router, not in its per-route middleware list: answers for
    # unmatched paths (404/405) get the headers, the request id and an access line too.
    app.asgi_handler = MetricsMiddleware(
        RequestContextMiddleware(SecurityHeadersMiddleware(app.asgi_handler))
    )
    return app
