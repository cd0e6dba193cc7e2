"""Reading submitted forms, query strings and path parameters through the one parsing
layer (marketplace.parsing), and carrying a rejected form back to its page."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Collection
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

from marketplace.errors import DomainError, ValidationFailed
from marketplace.files import UploadedFile
from marketplace.parsing import MAX_ID, lenient, parse_choice, parse_int, parse_text
from server.errors import form_status, retry_headers
from server.rendering import flash, redirect

FormData = dict[str, Any]
# Past this a list is empty anyway; bounding it keeps OFFSET inside PostgreSQL's bigint.
MAX_PAGE = 10_000
# No path segment we route on (ids, references, static files) is longer than this.
MAX_PATH_TEXT = 255
# A `next` path longer than this is not one we sent anyone from.
MAX_NEXT_LENGTH = 2000


async def form_data(request: Request) -> FormData:
    """Single values as str, repeated keys (checkbox groups) as list[str]."""
    form = await request.form()
    data: FormData = {}
    for key in form:
        if key == "_csrf_token":
            continue
        values = [v for v in form.getall(key) if isinstance(v, str)]
        data[key] = values if len(values) > 1 else (values[0] if values else "")
    return data


def errors_of(exc: DomainError) -> dict[str, str]:
    """Field → message for the form; errors without a field go under "_form"."""
    if isinstance(exc, ValidationFailed):
        return dict(exc.errors)
    return {exc.field or "_form": exc.message}


def as_list(data: FormData, key: str) -> list[str]:
    value = data.get(key)
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def safe_next(target: str | None, prefix: str, default: str) -> str:
    """Only same-site paths under the audience's own prefix: never `//host` or `/\\host`
    (browsers read both as another site), a scheme (`javascript:`), or spaces and control
    characters, which browsers drop before reading the rest (`/\t/host`)."""
    if (
        not target
        or len(target) > MAX_NEXT_LENGTH
        or not target.startswith("/")
        or not target.startswith(prefix)
        or target.startswith("//")
        or "\\" in target
        or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in target)
    ):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


async def path_params_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every route: an id outside PostgreSQL's integer range, or path text with control
    characters (NUL) or absurd length, names nothing: 404 rather than a database or
    file-system error."""
    for value in connection.path_params.values():
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise NotFoundException()
        if isinstance(value, str | PurePath):
            text = str(value)
            if len(text) > MAX_PATH_TEXT or any(unicodedata.category(c) == "Cc" for c in text):
                raise NotFoundException()


def query_int(
    request: Request, key: str, default: int, *, minimum: int = 0, maximum: int = MAX_ID
) -> int:
    """Lenient, as query strings are: a malformed or out-of-range value is the default."""
    return lenient(
        parse_int, request.query_params.get(key), default, minimum=minimum, maximum=maximum
    )


def query_ints(request: Request, key: str, *, limit: int) -> list[int]:
    """Repeated ids (`?id=1&id=2`): the well-formed ones, at most `limit`."""
    ids = (lenient(parse_int, raw, 0, minimum=1) for raw in request.query_params.getall(key, []))
    return [value for value in ids if value][:limit]


def page_number(raw: Any) -> int:
    """A page number from a query string or a form; anything malformed is page 1."""
    return lenient(parse_int, raw, 1, minimum=1, maximum=MAX_PAGE)


def query_page(request: Request) -> int:
    return page_number(request.query_params.get("page"))


def query_choice(request: Request, key: str, choices: Collection[str], default: str = "") -> str:
    return lenient(parse_choice, request.query_params.get(key), default, choices=choices)


def query_text(request: Request, key: str, *, max_length: int) -> str:
    """Text that does not fit (or has control characters) is dropped, not cut."""
    return lenient(parse_text, request.query_params.get(key), "", max_length=max_length)


async def submit_form(
    request: Request,
    submit: Callable[[FormData], Awaitable[Response]],
    rerender: Callable[[FormData, dict[str, str]], Awaitable[Response]],
) -> Response:
    """Run `submit` with the posted form. A rule it breaks (DomainError) re-renders the
    form through `rerender(values, errors)` with every typed value, at the status the one
    mapping in server.errors gives (400 field errors, 409 wrong state, 429 + Retry-After).
    NotFound and PermissionDenied are not rule breaks: they become the 404/403 pages."""
    data = await form_data(request)
    try:
        return await submit(data)
    except DomainError as exc:
        response = await rerender(data, errors_of(exc))
        response.status_code = form_status(exc)
        response.headers.update(retry_headers(exc))
        return response


async def uploaded_files(request: Request, field: str, *, max_bytes: int) -> list[UploadedFile]:
    """The files posted under `field`, each read to one byte past `max_bytes` at most
    (enough for the verb to say it is too big without holding more)."""
    form = await request.form()
    return [
        UploadedFile(upload.filename or "", await upload.read(max_bytes + 1))
        for upload in form.getall(field, [])
        if isinstance(upload, UploadFile)
    ]


async def flashed_action(
    request: Request,
    act: Callable[[FormData], Awaitable[str]],
    done: str,
    rerender: Callable[[FormData, dict[str, str]], Awaitable[Response]],
) -> Response:
    """A form whose verb says what it did: `act` returns the message to flash, then 303
    to `done`; a broken rule re-renders as `submit_form` does."""

    async def submit(data: FormData) -> Response:
        flash(request, await act(data))
        return redirect(request, done)

    return await submit_form(request, submit, rerender)
