"""Reading submitted forms and carrying errors back to the page."""

from __future__ import annotations

from typing import Any

from litestar import Request

from marketplace.errors import DomainError, ValidationFailed

FormData = dict[str, Any]


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
    """Only same-site paths under the audience's own prefix; never `//host`."""
    if not target or not target.startswith(prefix) or target.startswith("//") or "\\" in target:
        return default
    return target
