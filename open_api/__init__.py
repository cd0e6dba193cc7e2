"""The Open API (PRODUCT.md I6): institutions' systems pull leads and push decisions,
disbursements and repayments with OAuth2 client-credentials bearer tokens.

Its own small Litestar application, mounted at /api by the composition root: its own
OpenAPI 3.1 document (the HTML app's routes are not in it), its own errors (RFC 9457
problem details for everything, unknown paths included), no session and no CSRF (bearer
tokens are not sent by browsers on their own)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme, Server, Tag

from marketplace.api_clients.scopes import SCOPES
from marketplace.i18n import N_, _
from open_api import leads, loans, oauth, reconciliation
from open_api.auth import api_guard
from open_api.problems import EXCEPTION_HANDLERS
from server.forms import path_params_guard

API_PREFIX = "/api"
API_VERSION = "1.0.0"


@get("/openapi.json", name="api.openapi", opt={"access": "public"}, include_in_schema=False)
async def openapi_document(request: Request) -> dict[str, Any]:
    return request.app.openapi_schema.to_schema()


def create_api_app() -> Litestar:
    return Litestar(
        route_handlers=[
            oauth.token,
            *leads.handlers,
            *loans.handlers,
            *reconciliation.handlers,
            openapi_document,
        ],
        guards=[path_params_guard, api_guard],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title=N_("LoanMart 开放接口"),
            version=API_VERSION,
            description=_("机构系统拉取线索、回传状态、批复、放款与还款，报送放款台账并对账。"),
            servers=[Server(url=API_PREFIX)],
            path="/openapi-internal",
            render_plugins=[],
            tags=[
                Tag(name="OAuth2"),
                Tag(name=N_("线索")),
                Tag(name=N_("贷款")),
                Tag(name=N_("对账")),
            ],
            components=Components(
                security_schemes={
                    "oauth2": SecurityScheme(
                        type="oauth2",
                        flows=OAuthFlows(
                            client_credentials=OAuthFlow(
                                token_url=f"{API_PREFIX}/oauth/token",
                                scopes={scope: _(label) for scope, label in SCOPES.items()},
                            )
                        ),
                    )
                }
            ),
        ),
        debug=False,
    )
