"""Context for the `ui.pagination` macro, shared by every paged list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode


def pagination(path: str, filters: Mapping[str, Any], page: int, total: int, per_page: int) -> dict:
    """`page`, `pages` and `page_url(n)`; page links keep the list's filters (empty ones dropped)."""
    kept = {
        key: value for key, value in filters.items() if value not in ("", None) and key != "page"
    }
    return {
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "page_url": lambda number: f"{path}?{urlencode({**kept, 'page': number})}",
    }
