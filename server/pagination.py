"""Context for the `ui.pagination` macro, shared by every paged list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode


def pagination(path: str, filters: Mapping[str, Any], page: int, total: int, per_page: int) -> dict:
    """`page`, `pages`, `page_url(n)` and `past_end`; page links keep the list's filters
    (empty ones dropped).

    A page past the last one (an old link, rows deleted since) is `past_end`: lists show
    "no more results" with a link to page 1 (components/past_end.html), never the
    "nothing here yet" state beside a non-zero total."""
    kept = {
        key: value for key, value in filters.items() if value not in ("", None) and key != "page"
    }
    pages = max(1, -(-total // per_page))
    return {
        "page": page,
        "pages": pages,
        "past_end": page > pages,
        "page_url": lambda number: f"{path}?{urlencode({**kept, 'page': number})}",
    }
