"""Start and stop what a process needs: the DB pool, Redis, the search backend."""

from __future__ import annotations

import contextlib

from marketplace import cache, jobs
from marketplace.content.search_port import article_backend, set_article_backend
from marketplace.db import engine, start_pool
from marketplace.products.search_port import backend, set_backend
from marketplace.settings import settings
from search import make_article_backend, make_backend


async def start_services() -> None:
    await start_pool(max_size=10)
    set_backend(make_backend(settings))
    set_article_backend(make_article_backend(settings))


async def stop_services() -> None:
    with contextlib.suppress(RuntimeError):
        await backend().close()
    set_backend(None)
    with contextlib.suppress(RuntimeError):
        await article_backend().close()
    set_article_backend(None)
    await jobs.close()
    await cache.close()
    await engine().close_connection_pool()
