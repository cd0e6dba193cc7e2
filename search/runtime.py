"""The process's one search backend, opened at start-up (web and worker alike)."""

from __future__ import annotations

from search.backend import SearchBackend

_backend: SearchBackend | None = None


def set_backend(backend: SearchBackend | None) -> None:
    global _backend
    _backend = backend


def backend() -> SearchBackend:
    if _backend is None:
        raise RuntimeError("search backend not started")
    return _backend
