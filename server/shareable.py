"""Shareable GET URLs: a filter form submits every field, empty ones too; the page
answers such a request with a redirect to the same URL without the empty parameters."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response
from litestar.response import Redirect


def without_empty_params(request: Request) -> Response | None:
    items = list(request.query_params.multi_items())
    kept = [(key, value) for key, value in items if value.strip()]
    if len(kept) == len(items):
        return None
    query = urlencode(kept)
    return Redirect(request.url.path + (f"?{query}" if query else ""), status_code=303)
