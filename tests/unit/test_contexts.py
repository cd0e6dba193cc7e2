"""Contexts plug in: one list derives the registry, jobs, crons and test tables; a context
writes only its own tables and imports only other contexts' public modules."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from piccolo.table import Table

from marketplace import jobs
from marketplace.contexts import (
    CONTEXTS,
    Cron,
    all_contexts,
    cron_table,
    job_table,
    table_names,
)
from marketplace.piccolo_conf import APP_REGISTRY

MARKETPLACE = Path(__file__).resolve().parents[2] / "marketplace"
WRITE_METHODS = {"insert", "update", "delete", "raw"}
SQL_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)", re.IGNORECASE)


def owner_of_tables() -> dict[str, str]:
    """Table class name and SQL table name -> owning context."""
    owners: dict[str, str] = {}
    for context in all_contexts():
        for table in context.tables:
            owners[table.__name__] = context.name
            owners[table._meta.tablename] = context.name
    return owners


def context_sources(name: str) -> list[Path]:
    return [
        path
        for path in (MARKETPLACE / name).rglob("*.py")
        if "piccolo_migrations" not in path.parts
    ]


def test_the_one_list_derives_registry_jobs_crons_and_tables():
    assert [context.name for context in all_contexts()] == list(CONTEXTS)
    assert [app.app_name for app in APP_REGISTRY.app_configs.values()] == list(CONTEXTS)
    assert job_table() == jobs.JOBS
    every_table = {table._meta.tablename for c in all_contexts() for table in c.tables}
    assert set(table_names()) == every_table
    assert "outbox.sweep" in {cron.name for cron in cron_table()}


def test_every_table_in_marketplace_belongs_to_a_context():
    declared = {table for context in all_contexts() for table in context.tables}
    for name in CONTEXTS:
        module = importlib.import_module(f"marketplace.{name}.tables")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Table) and value.__module__ == module.__name__:
                assert value in declared, f"{value.__name__} is not declared by {name}"


@pytest.mark.parametrize("job", sorted(job_table()))
def test_jobs_resolve_to_coroutines_named_after_their_context(job):
    module, _, function = job_table()[job].partition(":")
    handler = getattr(importlib.import_module(module), function)
    assert inspect.iscoroutinefunction(handler)
    assert job.split(".")[0] in CONTEXTS


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_context_writes_only_its_own_tables(context):
    owners = owner_of_tables()
    offences = []
    for path in context_sources(context):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITE_METHODS
                and isinstance(node.func.value, ast.Name)
            ):
                owner = owners.get(node.func.value.id)
                if owner and owner != context and node.func.attr != "raw":
                    offences.append(
                        f"{path.name}:{node.lineno} {node.func.value.id}.{node.func.attr}"
                    )
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for table in SQL_WRITE.findall(node.value):
                    owner = owners.get(table)
                    if owner and owner != context:
                        offences.append(f"{path.name}:{node.lineno} SQL write to {table}")
    assert not offences, f"{context} writes tables of other contexts: {offences}"


@pytest.mark.parametrize("context", CONTEXTS)
def test_other_contexts_are_reached_only_through_their_public_modules(context):
    by_name = {c.name: c for c in all_contexts()}
    offences = []
    for path in context_sources(context):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "marketplace" and len(parts) > 1 and parts[1] in by_name:
                    other = by_name[parts[1]]
                    if other.name != context and not other.is_public(node.module):
                        offences.append(f"{path.name}:{node.lineno} {node.module}")
    assert not offences, f"{context} imports private modules of other contexts: {offences}"


def test_the_write_check_can_fail():
    """The AST check above recognises a cross-context insert (guards against a vacuous test)."""
    source = "async def f():\n    await Consent.insert(Consent())\n"
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITE_METHODS
    ]
    assert owner_of_tables()[calls[0].func.value.id] == "consents"


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        (5, {"second": set(range(0, 60, 5))}),
        (600, {"second": {0}, "minute": {0, 10, 20, 30, 40, 50}}),
        (3600, {"second": {0}, "minute": {0}, "hour": set(range(24))}),
        (86400, {"second": {0}, "minute": {0}, "hour": {0}}),
    ],
)
def test_crons_run_as_often_as_declared(every, expected):
    assert jobs._schedule(Cron("x.y", "m:f", every_seconds=every)) == expected


def test_entry_points_and_job_modules_import_first_in_a_fresh_interpreter():
    """The CLI (`make demo`'s migrate), the web app, the worker and the benches each start
    from a different module; an import cycle that a test run hides (conftest loads the
    contexts in order first) breaks them. Each must import first, on its own."""
    root = Path(__file__).resolve().parents[2]
    modules = ["server.cli", "server.asgi", "marketplace.jobs"] + [
        f"marketplace.{name}.jobs"
        for name in CONTEXTS
        if (root / "marketplace" / name / "jobs.py").exists()
    ]

    def failure(module: str) -> str | None:
        run = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        return f"{module}: {run.stderr.strip().splitlines()[-1]}" if run.returncode else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(failure, modules) if f]
    assert failures == []
