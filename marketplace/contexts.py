"""The one list of bounded contexts, and what is derived from it.

Each `marketplace/<context>/piccolo_app.py` declares its context in one place with
`declare_context(...)`: its Piccolo app (tables, migrations), its jobs and crons, and the
modules other contexts may import (its public verbs and queries). Everything that must
know every context — the Piccolo app registry, the worker's functions and cron jobs, the
tables the tests empty — is computed from `CONTEXTS` below, so adding a context means
writing its package and adding its name here; no other shared file changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from marketplace.appconfig import app_config

# In dependency order: a context only references tables of contexts listed before it.
CONTEXTS: tuple[str, ...] = (
    "parameters",
    "institutions",
    "accounts",
    "categories",
    "products",
    "agreements",
    "delivery",
    "consents",
    "applications",
    "outbox",
    "audit",
    "notifications",
    "inbox",
    "offers",
    "loans",
    "erasure",
    "messages",
    "documents",
    "collections",
    "promotions",
    "ranking",
    "legal",
    "credit",
    "api_clients",
    "partners",
    "prescreen",
    "webhooks",
    "settlement",
    "reconciliation",
    "risk",
    "recommendations",
    "monitoring",
    "analytics",
)


@dataclass(frozen=True)
class Cron:
    """A periodic job: `target` ("module:function") is awaited with no arguments."""

    name: str
    target: str
    every_seconds: int
    run_at_startup: bool = False


@dataclass(frozen=True)
class Context:
    name: str
    app: AppConfig
    # job name -> "module:function"; handlers take ids only and are idempotent.
    jobs: Mapping[str, str] = field(default_factory=dict)
    crons: tuple[Cron, ...] = ()
    # Modules of this context that other contexts may import (its public verbs, queries,
    # states and errors). Tables may be read from anywhere; only the owner writes them.
    public: tuple[str, ...] = ("services", "queries")

    @property
    def tables(self) -> list[type[Table]]:
        return list(self.app.table_classes)

    def is_public(self, module: str) -> bool:
        """`module` is a dotted path inside marketplace.<name>."""
        inner = module.removeprefix(f"marketplace.{self.name}").lstrip(".")
        return inner == "" or inner.split(".")[0] in (*self.public, "tables")


def declare_context(
    name: str,
    app_file: str,
    tables: list[type[Table]],
    *,
    depends_on: tuple[str, ...] = (),
    jobs: Mapping[str, str] | None = None,
    crons: tuple[Cron, ...] = (),
    public: tuple[str, ...] = ("services", "queries"),
) -> Context:
    for job in jobs or {}:
        if not job.startswith(f"{name}."):
            raise ValueError(f"job {job!r} of context {name!r} must be named '{name}.…'")
    return Context(
        name=name,
        app=app_config(name, app_file, tables, depends_on),
        jobs=dict(jobs or {}),
        crons=crons,
        public=public,
    )


def app_module(name: str) -> str:
    return f"marketplace.{name}.piccolo_app"


@cache
def all_contexts() -> tuple[Context, ...]:
    return tuple(importlib.import_module(app_module(name)).CONTEXT for name in CONTEXTS)


def context_named(name: str) -> Context:
    for context in all_contexts():
        if context.name == name:
            return context
    raise KeyError(name)


def job_table() -> dict[str, str]:
    """Every job of every context: name -> "module:function"."""
    table: dict[str, str] = {}
    for context in all_contexts():
        for job, target in context.jobs.items():
            if job in table:
                raise ValueError(f"job {job!r} declared twice")
            table[job] = target
    return table


def cron_table() -> list[Cron]:
    return [cron for context in all_contexts() for cron in context.crons]


def table_names() -> list[str]:
    """Every table of every context, derived from the Piccolo apps (for test resets)."""
    return [table._meta.tablename for context in all_contexts() for table in context.tables]
