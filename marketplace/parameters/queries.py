"""Read models of the system parameters page (PRODUCT.md A3)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.errors import NotFound
from marketplace.i18n import N_, _
from marketplace.parameters.services import DEFAULTS
from marketplace.parameters.specs import GROUPS, KIND_LABELS, SPECS, as_text
from marketplace.parameters.tables import ParameterChange, SystemParameter

OTHER_GROUP = N_("其他")


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class ParameterRow:
    key: str
    label: str
    description: str
    kind_label: str
    unit: str
    range_text: str
    value_text: str
    is_default: bool
    version: int
    updated_at: datetime | None
    updated_by: str
    multiline: bool


@dataclass(frozen=True)
class ParameterGroup:
    label: str
    rows: tuple[ParameterRow, ...]


@dataclass(frozen=True)
class ParameterChangeRow:
    key: str
    label: str
    version: int
    at: datetime
    actor_label: str
    old_text: str
    new_text: str
    reason: str


def _text(key: str, value: Any) -> str:
    spec = SPECS.get(key)
    return as_text(spec, value) if spec else json.dumps(value, ensure_ascii=False)


def _label(key: str) -> str:
    spec = SPECS.get(key)
    return _(spec.label) if spec else key


def _row(key: str, stored: dict | None) -> ParameterRow:
    spec = SPECS.get(key)
    value = _loaded(stored["value"]) if stored else DEFAULTS[key]
    version = stored["version"] if stored else 0
    return ParameterRow(
        key=key,
        label=_label(key),
        description=_(spec.description) if spec else "",
        kind_label=_(KIND_LABELS[spec.kind]) if spec else type(DEFAULTS[key]).__name__,
        unit=_(spec.unit) if spec and spec.unit else "",
        range_text=spec.range_text if spec else "—",
        value_text=_text(key, value),
        is_default=value == DEFAULTS[key],
        version=version,
        updated_at=stored["updated_at"] if stored and version else None,
        updated_by=stored["updated_by"] if stored and version else "",
        multiline=bool(spec and spec.kind == "code_list") or isinstance(DEFAULTS[key], list | dict),
    )


async def _stored(*keys: str) -> dict[str, dict]:
    query = SystemParameter.select(
        SystemParameter.key,
        SystemParameter.value,
        SystemParameter.version,
        SystemParameter.updated_at,
        SystemParameter.updated_by,
    )
    if keys:
        query = query.where(SystemParameter.key.is_in(list(keys)))
    return {row["key"]: row for row in await query}


async def parameter_groups() -> list[ParameterGroup]:
    """Every parameter in DEFAULTS (a row or not), by area in the specs' order."""
    stored = await _stored()
    grouped: dict[str, list[ParameterRow]] = {label: [] for label in GROUPS.values()}
    for key in DEFAULTS:
        spec = SPECS.get(key)
        group = GROUPS[spec.group] if spec else OTHER_GROUP
        grouped.setdefault(group, []).append(_row(key, stored.get(key)))
    return [ParameterGroup(_(label), tuple(rows)) for label, rows in grouped.items() if rows]


async def parameter(key: str) -> ParameterRow:
    if key not in DEFAULTS:
        raise NotFound(_("没有这个参数"))
    return _row(key, (await _stored(key)).get(key))


async def parameter_history(
    key: str | None = None, *, page: int = 1, per_page: int = 50
) -> tuple[list[ParameterChangeRow], int]:
    """Changes newest first (of one key, or of all), and how many there are."""
    where = ParameterChange.key == key if key else ParameterChange.id > 0
    total = await ParameterChange.count().where(where)
    rows = (
        await ParameterChange.select()
        .where(where)
        .order_by(ParameterChange.at, ascending=False)
        .order_by(ParameterChange.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [
        ParameterChangeRow(
            key=row["key"],
            label=_label(row["key"]) if row["key"] in DEFAULTS else row["key"],
            version=row["version"],
            at=row["at"],
            actor_label=row["actor_label"],
            old_text=_text(row["key"], _loaded(row["old_value"])) if row["key"] in DEFAULTS else "",
            new_text=_text(row["key"], _loaded(row["new_value"])) if row["key"] in DEFAULTS else "",
            reason=row["reason"],
        )
        for row in rows
    ], total
