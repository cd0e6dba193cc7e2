"""Version history of a product and a field-by-field diff between two versions.

A listed version's terms are frozen in a ProductRevision when it is listed; the version
being drafted or reviewed (not listed yet) is the product row itself. Both are compared as
the same flat dict of column values, so any two versions can be put side by side.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplace.actors import Actor
from marketplace.audit.tables import AuditEntry
from marketplace.categories.queries import category_labels
from marketplace.errors import NotFound
from marketplace.i18n import N_, _
from marketplace.loancalc import Fee, FeeTiming, RatePeriod, RepaymentMethod
from marketplace.money import format_cny, format_rate
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES
from marketplace.products.disclosures import load as load_contingent
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product, ProductRevision

# Texts longer than this are compared word by word (difflib) rather than shown whole twice.
LONG_TEXT = 80


@dataclass(frozen=True)
class VersionEntry:
    version: int
    listed_at: datetime | None  # None: the version being drafted or reviewed
    current: bool  # the product's working version


@dataclass(frozen=True)
class DiffRow:
    label: str
    old: str
    new: str
    changed: bool
    # For long text: (kind, text) pieces, kind "equal" | "insert" | "delete".
    pieces: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VersionDiff:
    old_version: int
    new_version: int
    rows: tuple[DiffRow, ...]

    @property
    def changed(self) -> int:
        return sum(row.changed for row in self.rows)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _methods(snapshot: Mapping[str, Any]) -> str:
    # Versions listed before a product had several methods stored one.
    methods = snapshot.get("repayment_methods") or [snapshot.get("repayment_method")]
    return _("、").join(RepaymentMethod(m).label for m in methods if m)


def _rate(snapshot: Mapping[str, Any]) -> str:
    rate = _decimal(snapshot.get("rate"))
    if snapshot.get("rate_type") == "floating":
        return _(
            "LPR + {bps} 个基点（当时 {rate}）",
            bps=snapshot.get("rate_spread_bps"),
            rate=format_rate(rate),
        )
    period = RatePeriod(snapshot.get("rate_period") or "year").label
    return _("{period}利率 {rate}", period=period, rate=format_rate(rate, 4))


def _fees(snapshot: Mapping[str, Any]) -> str:
    fees = [Fee.from_dict(fee) for fee in _json(snapshot.get("fees")) or []]
    if not fees:
        return _("无")
    parts = []
    for fee in fees:
        value = format_cny(fee.amount) if fee.amount is not None else format_rate(fee.rate, 4)
        parts.append(f"{fee.label} {value}（{FeeTiming(fee.timing).label}）")
    return "；".join(parts)


def _contingent(snapshot: Mapping[str, Any]) -> str:
    fees = load_contingent(snapshot.get("contingent_fees"))
    if not fees:
        return _("未披露")
    return "；".join(f"{fee.label}：{fee.describe()}" for fee in fees)


def _items(key: str, labels: Mapping[str, str] | None = None) -> Callable[[Mapping], str]:
    def show(snapshot: Mapping[str, Any]) -> str:
        items = snapshot.get(key) or []
        return _("、").join(_(labels.get(i, i)) if labels else str(i) for i in items) or "—"

    return show


def _plain(key: str, show: Callable[[Any], str] = str) -> Callable[[Mapping], str]:
    def read(snapshot: Mapping[str, Any]) -> str:
        value = snapshot.get(key)
        return "—" if value is None or value == "" else show(value)

    return read


# (label, how to show the field of a snapshot, compared as long text)
FIELDS: tuple[tuple[str, Callable[[Mapping[str, Any]], str], bool], ...] = (
    (N_("产品名称"), _plain("name"), False),
    (N_("产品类别"), _plain("category", lambda c: _(CATEGORIES.get(c, c))), False),
    (N_("一句话介绍"), _plain("summary"), True),
    (N_("产品说明"), _plain("description"), True),
    (N_("最低额度"), _plain("amount_min", lambda v: format_cny(_decimal(v))), False),
    (N_("最高额度"), _plain("amount_max", lambda v: format_cny(_decimal(v))), False),
    (N_("可选期限（月）"), _items("term_options"), False),
    (N_("利率"), _rate, False),
    (N_("还款方式"), _methods, False),
    (N_("费用（计入年化）"), _fees, False),
    (N_("逾期与提前还款费用"), _contingent, False),
    (N_("综合年化利率下限"), _plain("apr_min", lambda v: format_rate(_decimal(v))), False),
    (N_("综合年化利率上限"), _plain("apr_max", lambda v: format_rate(_decimal(v))), False),
    (N_("最低年龄"), _plain("age_min"), False),
    (N_("最高年龄"), _plain("age_max"), False),
    (N_("可申请城市"), _items("cities"), False),
    (N_("最低月收入"), _plain("min_monthly_income", lambda v: format_cny(_decimal(v))), False),
    (N_("职业类型"), _items("employment_types", EMPLOYMENT_TYPES), False),
    (N_("所需材料"), _items("required_documents"), False),
    (N_("标签"), _items("tags"), False),
    (N_("搜索关键词"), _items("keywords"), False),
    (N_("审批时效（小时）"), _plain("approval_speed_hours"), False),
)


def _pieces(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """Character-level changes of a long text (Chinese has no spaces to split words on)."""
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(("equal", old[a1:a2]))
            continue
        if a2 > a1:
            pieces.append(("delete", old[a1:a2]))
        if b2 > b1:
            pieces.append(("insert", new[b1:b2]))
    return tuple(pieces)


def diff_snapshots(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    category_names: Mapping[str, str] | None = None,
) -> tuple[DiffRow, ...]:
    """`category_names`: code -> name as operators set them (categories they created have
    no shipped name); without it, the shipped names."""
    if category_names:
        old, new = (
            {**s, "category": category_names.get(s.get("category") or "", s.get("category"))}
            for s in (old, new)
        )
    rows = []
    for label, show, long_text in FIELDS:
        before, after = show(old), show(new)
        changed = before != after
        pieces: tuple[tuple[str, str], ...] = ()
        if changed and long_text and max(len(before), len(after)) > LONG_TEXT:
            pieces = _pieces(before, after)
        rows.append(DiffRow(_(label), before, after, changed, pieces))
    return tuple(rows)


async def _snapshots(product_id: int, row: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """Every version of the product: the listed ones as frozen, the working one as it is."""
    revisions = (
        await ProductRevision.select(ProductRevision.version, ProductRevision.snapshot)
        .where(ProductRevision.product == product_id)
        .order_by(ProductRevision.version)
    )
    versions = {r["version"]: _json(r["snapshot"]) for r in revisions}
    versions.setdefault(row["version"], dict(row))
    return versions


async def _own_row(actor: Actor, product_id: int) -> dict[str, Any]:
    row = (
        await Product.select()
        .where((Product.id == product_id) & (Product.institution == actor.institution_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    return row


async def product_versions(actor: Actor, product_id: int) -> list[VersionEntry]:
    """The versions of one of the actor's institution's products, newest first."""
    row = await _own_row(actor, product_id)
    revisions = await ProductRevision.select(
        ProductRevision.version, ProductRevision.created_at
    ).where(ProductRevision.product == product_id)
    listed = {r["version"]: r["created_at"] for r in revisions}
    numbers = sorted({*listed, row["version"]}, reverse=True)
    return [VersionEntry(n, listed.get(n), n == row["version"]) for n in numbers]


async def version_diff(actor: Actor, product_id: int, old: int, new: int) -> VersionDiff:
    """Two versions of one of the actor's institution's products side by side."""
    row = await _own_row(actor, product_id)
    snapshots = await _snapshots(product_id, row)
    if old not in snapshots or new not in snapshots:
        raise NotFound(_("找不到该版本"))
    names = await category_labels(active_only=False)
    return VersionDiff(old, new, diff_snapshots(snapshots[old], snapshots[new], names))


@dataclass(frozen=True)
class ReviewContext:
    """What a reviewer compares a submitted product with."""

    approved_version: int | None  # the last version the platform listed, if any
    diff: VersionDiff | None
    last_rejection: str  # why the platform last turned it down, "" if never


async def review_context(product_id: int) -> ReviewContext:
    row = (
        await Product.select()
        .where((Product.id == product_id) & (Product.status != ProductStatus.DRAFT))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    approved = (
        await ProductRevision.select(ProductRevision.version, ProductRevision.snapshot)
        .where(ProductRevision.product == product_id)
        .order_by(ProductRevision.version, ascending=False)
        .first()
    )
    rejection = (
        await AuditEntry.select(AuditEntry.detail)
        .where(
            (AuditEntry.object_type == "product")
            & (AuditEntry.object_id == str(product_id))
            & (AuditEntry.action == "product.reject")
        )
        .order_by(AuditEntry.id, ascending=False)
        .first()
    )
    diff = None
    if approved is not None:
        names = await category_labels(active_only=False)
        rows = diff_snapshots(_json(approved["snapshot"]), row, names)
        diff = VersionDiff(approved["version"], row["version"], rows)
    note = str((_json(rejection["detail"]) or {}).get("note", "")) if rejection else ""
    return ReviewContext(approved["version"] if approved else None, diff, note)
