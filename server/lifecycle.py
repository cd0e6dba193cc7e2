"""Start and stop what a process needs: the DB pool, Redis, the search backend."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

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


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what is alive now (modules, templates, the search index, the pools: ~400,000
    objects in a web worker) out of the cyclic garbage collector while the block runs.

    A full collection walks every tracked object; with the start-up heap in it, one took
    170-470 ms on a loaded machine and came every few seconds under load (objects of
    in-flight requests outliving the young generations are enough to trigger one), a
    stall of every request in the process: the long p99 tails of issue 14. Frozen objects
    are still freed by reference counting; only a reference cycle among them that became
    garbage later would stay until `unfreeze` on the way out."""
    gc.collect()  # so no garbage is frozen
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
