"""The API's reference page at /api/docs, rendered on the server from the API's own
OpenAPI document: no script (the site's CSP allows none inline), works without JS. The
machine-readable document is /api/openapi.json."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from litestar import Litestar, Request, asgi, get
from litestar.response import Template
from litestar.types import Receive, Scope, Send

from marketplace.api_clients.scopes import SCOPES
from marketplace.i18n import _
from marketplace.settings import settings
from open_api import API_PREFIX, create_api_app
from open_api.problems import PROBLEM_TYPES
from server.rendering import render


@cache
def api_app() -> Litestar:
    return create_api_app()


@asgi(
    API_PREFIX,
    is_mount=True,
    copy_scope=True,
    name="api",
    opt={"access": "public", "session": False},
)
async def api_mount(scope: Scope, receive: Receive, send: Send) -> None:
    await api_app()(scope, receive, send)


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    scopes: tuple[str, ...]
    parameters: tuple[Field, ...]
    body: str  # the body's schema: a name (JSON bodies) or "object" (the token form)
    body_media: str
    success: str  # "201 OfferMade"
    problems: tuple[int, ...]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " | ".join(_type(item) for item in schema[key])
    kind = schema.get("type", "")
    if kind == "array":
        return f"[{_type(schema.get('items', {}))}]"
    if isinstance(kind, list):
        return " | ".join(kind)
    return str(kind) + (f" ({schema['format']})" if "format" in schema else "")


def _operations(document: dict[str, Any]) -> list[Operation]:
    operations = []
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            responses = op.get("responses", {})
            success = next((code for code in responses if code.startswith("2")), "")
            content: dict[str, Any] = responses.get(success, {}).get("content", {})
            media: dict[str, Any] = next(iter(content.values()), {})
            bodies: dict[str, Any] = op.get("requestBody", {}).get("content", {})
            body_media = next(iter(bodies), "")
            operations.append(
                Operation(
                    method=method.upper(),
                    path=API_PREFIX + path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    scopes=tuple(
                        s for sec in op.get("security", []) for s in sec.get("oauth2", [])
                    ),
                    parameters=tuple(
                        Field(
                            name=f"{p['name']}（{p['in']}）",
                            type=_type(p.get("schema", {})),
                            required=bool(p.get("required")),
                            description=p.get("description", ""),
                        )
                        for p in op.get("parameters", [])
                    ),
                    body=_type(bodies[body_media].get("schema", {})) if body_media else "",
                    body_media=body_media,
                    success=" ".join(
                        filter(
                            None,
                            [success, _type(media.get("schema", {}))],
                        )
                    ),
                    problems=tuple(int(code) for code in responses if code[0] in "45"),
                )
            )
    return operations


def _schemas(document: dict[str, Any]) -> dict[str, list[Field]]:
    schemas = {}
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        schemas[name] = [
            Field(
                name=prop,
                type=_type(spec),
                required=prop in required,
                description=spec.get("description", ""),
            )
            for prop, spec in schema.get("properties", {}).items()
        ]
    return schemas


@get(f"{API_PREFIX}/docs", name="api.docs", opt={"access": "public"})
async def api_docs(request: Request) -> Template:
    document = api_app().openapi_schema.to_schema()
    return await render(
        request,
        "open_api/docs.html",
        {
            "info": document["info"],
            "base_url": settings.base_url.rstrip("/"),
            "operations": _operations(document),
            "schemas": _schemas(document),
            "scopes": {scope: _(label) for scope, label in SCOPES.items()},
            "problems": [
                (status, slug, _(title), _(detail))
                for status, (slug, title, detail) in PROBLEM_TYPES.items()
            ],
        },
    )
