"""Read models for ratings: the product page's summary (one aggregate query) and page of
ratings (one query), the rating form, an institution's ratings, the operators' queue and
its export."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from piccolo.columns.combination import Combinable, WhereRaw
from piccolo.query.functions.aggregate import Count

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.products.tables import Product
from marketplace.ratings.moderation import banned_phrases, hits, segments
from marketplace.ratings.services import STARS, _eligible, eligibility
from marketplace.ratings.statuses import (
    DECISIONS,
    EDITABLE,
    HOLD_LABELS,
    RATING_MACHINE,
    REPLY,
    VIEW,
    WRITE,
    HoldReason,
    RatingStatus,
)
from marketplace.ratings.tables import ProductRating, RatingReply
from marketplace.security import mask_author
from marketplace.spreadsheets import Export, export_file
from marketplace.statemachine import Actions

SORTS = ("newest", "useful")
PER_PAGE = 10
MAX_EXPORT_ROWS = 10_000
QUEUE_STATUSES = tuple(RatingStatus)
QUEUE_REASONS = tuple(HoldReason)


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


def verified_label(disbursed: bool) -> str:
    return _("已放款") if disbursed else _("已验证申请")


@dataclass(frozen=True)
class Bar:
    stars: int
    count: int
    percent: int  # of all published ratings, for the bar's width


@dataclass(frozen=True)
class RatingSummary:
    count: int
    average: Decimal | None  # one decimal
    bars: list[Bar]


async def rating_summary(product_id: int) -> RatingSummary:
    """Average, count and the 5→1 distribution of the product's published ratings."""
    rows = (
        await ProductRating.select(ProductRating.rating, Count(ProductRating.id, alias="n"))
        .where(
            (ProductRating.product == product_id) & (ProductRating.status == RatingStatus.PUBLISHED)
        )
        .group_by(ProductRating.rating)
    )
    counts = {int(row["rating"]): int(row["n"]) for row in rows}
    total = sum(counts.values())
    average = (
        (Decimal(sum(s * n for s, n in counts.items())) / total).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
        if total
        else None
    )
    bars = [
        Bar(stars, counts.get(stars, 0), round(100 * counts.get(stars, 0) / total) if total else 0)
        for stars in reversed(STARS)
    ]
    return RatingSummary(count=total, average=average, bars=bars)


@dataclass(frozen=True)
class PublicRating:
    id: int
    stars: int
    text: str
    author: str
    verified_label: str
    published_at: datetime
    helpful_count: int
    reply_text: str
    reply_at: datetime | None
    voted: bool
    own: bool


_ORDER = {
    "newest": "r.published_at DESC, r.id DESC",
    "useful": "r.helpful_count DESC, r.published_at DESC, r.id DESC",
}

# One query for the page: the author's masks, the verified label (a disbursed loan of
# the author's for this product), the reply and whether the viewer voted.
_PAGE_SQL = """
SELECT r.id, r.rating, r.text, r.published_at, r.helpful_count, r.borrower,
       COALESCE(p.real_name_masked, '') AS name_masked, u.mobile_masked,
       EXISTS (SELECT 1 FROM loan l
               WHERE l.borrower = r.borrower AND l.product = r.product) AS disbursed,
       rr.text AS reply_text, rr.created_at AS reply_at,
       EXISTS (SELECT 1 FROM product_rating_vote v
               WHERE v.rating = r.id AND v.voter = {}) AS voted
FROM product_rating r
JOIN app_user u ON u.id = r.borrower
LEFT JOIN borrower_profile p ON p."user" = r.borrower
LEFT JOIN product_rating_reply rr ON rr.rating = r.id
WHERE r.product = {} AND r.status = {}
ORDER BY %s
LIMIT {} OFFSET {}
"""


@dataclass(frozen=True)
class ProductRatings:
    summary: RatingSummary
    items: list[PublicRating]
    sort: str
    page: int
    per_page: int
    # The "写评价" link: the viewer is a borrower who applied to the product.
    may_rate: bool
    may_vote: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.summary.count // self.per_page))


async def product_ratings(
    product_id: int, viewer: Actor | None, *, sort: str, page: int, per_page: int = PER_PAGE
) -> ProductRatings:
    summary = await rating_summary(product_id)
    viewer_id = viewer.user_id if viewer is not None and viewer.can(WRITE) else None
    rows = (
        await ProductRating.raw(
            _PAGE_SQL % _ORDER[sort if sort in _ORDER else SORTS[0]],
            viewer_id or 0,
            product_id,
            str(RatingStatus.PUBLISHED),
            per_page,
            (page - 1) * per_page,
        )
        if summary.count
        else []
    )
    items = [
        PublicRating(
            id=row["id"],
            stars=row["rating"],
            text=row["text"],
            author=mask_author(row["name_masked"], row["mobile_masked"] or ""),
            verified_label=verified_label(row["disbursed"]),
            published_at=row["published_at"],
            helpful_count=row["helpful_count"],
            reply_text=row["reply_text"] or "",
            reply_at=row["reply_at"],
            voted=row["voted"],
            own=viewer_id is not None and row["borrower"] == viewer_id,
        )
        for row in rows
    ]
    may_rate = viewer_id is not None and await eligibility(viewer_id, product_id) is not None
    return ProductRatings(
        summary=summary,
        items=items,
        sort=sort,
        page=page,
        per_page=per_page,
        may_rate=may_rate,
        may_vote=viewer_id is not None,
    )


@dataclass(frozen=True)
class RatingForm:
    product_id: int
    product_name: str
    verified_label: str
    stars: int | None = None
    text: str = ""
    status: str = ""
    status_label: str = ""
    hold_labels: list[str] = field(default_factory=list)
    decision_reason: str = ""
    editable: bool = True


def _hold_labels(stored: Any) -> list[str]:
    codes = json.loads(stored) if isinstance(stored, str) else stored or []
    labels: list[str] = []
    for code in codes:
        reason = str(code).split(":", 1)[0]
        if reason in QUEUE_REASONS:
            label = _(HOLD_LABELS[HoldReason(reason)])
            if label not in labels:
                labels.append(label)
    return labels


async def rating_form(actor: Actor, product_id: int) -> RatingForm:
    """The form for the actor's rating of the product (prefilled when they have one);
    Refused (403) for a borrower who never applied to it."""
    verified = await _eligible(actor, product_id)
    product = await Product.select(Product.name).where(Product.id == product_id).first()
    if product is None:
        raise NotFound(_("找不到该产品"))
    mine = (
        await ProductRating.select()
        .where((ProductRating.product == product_id) & (ProductRating.borrower == actor.user_id))
        .first()
    )
    base = RatingForm(
        product_id=product_id,
        product_name=product["name"],
        verified_label=verified_label(verified.disbursed),
    )
    if mine is None:
        return base
    return RatingForm(
        product_id=product_id,
        product_name=product["name"],
        verified_label=base.verified_label,
        stars=mine["rating"],
        text=mine["text"],
        status=mine["status"],
        status_label=RATING_MACHINE.label(mine["status"]),
        hold_labels=_hold_labels(mine["hold_reasons"]),
        decision_reason=mine["decision_reason"],
        editable=mine["status"] in EDITABLE,
    )


@dataclass(frozen=True)
class StaffRating:
    id: int
    product_id: int
    product_name: str
    stars: int
    text: str
    published_at: datetime | None
    helpful_count: int
    reply_text: str
    reply_at: datetime | None
    actions: Actions


@dataclass(frozen=True)
class InstitutionRatings:
    rows: list[StaffRating]
    total: int
    products: list[tuple[int, str]]


async def institution_ratings(
    actor: Actor, *, product_id: int | None, stars: int | None, page: int, per_page: int
) -> InstitutionRatings:
    """The published ratings of the actor's institution's products, newest first."""
    _require(actor, REPLY)
    where: Combinable = (ProductRating.product.institution == actor.institution_id) & (
        ProductRating.status == RatingStatus.PUBLISHED
    )
    if product_id:
        where &= ProductRating.product == product_id
    if stars:
        where &= ProductRating.rating == stars
    total = await ProductRating.count().where(where)
    rows = (
        await ProductRating.select(
            ProductRating.id,
            ProductRating.product,
            ProductRating.product.name.as_alias("product_name"),
            ProductRating.rating,
            ProductRating.text,
            ProductRating.status,
            ProductRating.published_at,
            ProductRating.helpful_count,
        )
        .where(where)
        .order_by(ProductRating.published_at, ascending=False)
        .order_by(ProductRating.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    replies = {
        row["rating"]: row
        for row in (
            await RatingReply.select(
                RatingReply.rating, RatingReply.text, RatingReply.created_at
            ).where(RatingReply.rating.is_in([row["id"] for row in rows]))
            if rows
            else []
        )
    }
    products = (
        await Product.select(Product.id, Product.name)
        .where(Product.institution == actor.institution_id)
        .order_by(Product.id)
    )
    return InstitutionRatings(
        rows=[
            StaffRating(
                id=row["id"],
                product_id=row["product"],
                product_name=row["product_name"],
                stars=row["rating"],
                text=row["text"],
                published_at=row["published_at"],
                helpful_count=row["helpful_count"],
                reply_text=replies[row["id"]]["text"] if row["id"] in replies else "",
                reply_at=replies[row["id"]]["created_at"] if row["id"] in replies else None,
                actions=RATING_MACHINE.actions(row["status"], actor),
            )
            for row in rows
        ],
        total=total,
        products=[(row["id"], row["name"]) for row in products],
    )


@dataclass(frozen=True)
class QueueRow:
    id: int
    product_id: int
    product_name: str
    institution_name: str
    author: str
    stars: int
    text: str
    pieces: list[tuple[str, bool]]  # the text with what the check caught marked
    status: str
    status_label: str
    hold_labels: list[str]
    report_reason: str
    decision_reason: str
    moderator_name: str
    created_at: datetime
    updated_at: datetime
    actions: Actions


@dataclass(frozen=True)
class QueueFilters:
    status: str = str(RatingStatus.HELD)
    reason: str = ""
    product_id: int | None = None

    def as_query(self) -> dict[str, str]:
        return {
            "status": self.status,
            "reason": self.reason,
            "product": str(self.product_id or ""),
        }


_QUEUE_COLUMNS = (
    ProductRating.id,
    ProductRating.product,
    ProductRating.product.name.as_alias("product_name"),
    ProductRating.product.institution.short_name.as_alias("institution_name"),  # type: ignore[union-attr]
    ProductRating.borrower.mobile_masked.as_alias("mobile_masked"),
    ProductRating.rating,
    ProductRating.text,
    ProductRating.status,
    ProductRating.hold_reasons,
    ProductRating.report_reason,
    ProductRating.decision_reason,
    ProductRating.moderator.display_name.as_alias("moderator_name"),
    ProductRating.created_at,
    ProductRating.updated_at,
)


def _queue_where(filters: QueueFilters) -> Combinable:
    where: Combinable = ProductRating.id > 0
    if filters.status:
        where &= ProductRating.status == filters.status
    if filters.reason:
        # Qualified names: the page query joins tables with columns of their own.
        where &= WhereRaw(
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text(product_rating.hold_reasons)"
            " AS held(reason) WHERE split_part(held.reason, ':', 1) = {})",
            str(HoldReason(filters.reason)),
        )
    if filters.product_id:
        where &= ProductRating.product == filters.product_id
    return where


def _queue_row(row: dict[str, Any], actor: Actor, banned: list[dict[str, str]]) -> QueueRow:
    return QueueRow(
        id=row["id"],
        product_id=row["product"],
        product_name=row["product_name"] or "",
        institution_name=row["institution_name"] or "",
        author=mask_author("", row["mobile_masked"] or ""),
        stars=row["rating"],
        text=row["text"],
        pieces=segments(row["text"], hits(row["text"], banned)),
        status=row["status"],
        status_label=RATING_MACHINE.label(row["status"]),
        hold_labels=_hold_labels(row["hold_reasons"]),
        report_reason=row["report_reason"],
        decision_reason=row["decision_reason"],
        moderator_name=row["moderator_name"] or "",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        actions=Actions(
            tuple(
                action
                for action in RATING_MACHINE.actions(row["status"], actor)
                if action.name in DECISIONS
            )
        ),
    )


async def _queue_rows(filters: QueueFilters, limit: int, offset: int) -> list[dict[str, Any]]:
    return (
        await ProductRating.select(*_QUEUE_COLUMNS)
        .where(_queue_where(filters))
        .order_by(ProductRating.updated_at, ascending=False)
        .order_by(ProductRating.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )


async def moderation_queue(
    actor: Actor, filters: QueueFilters, *, page: int, per_page: int
) -> tuple[list[QueueRow], int]:
    """Held ratings by default (latest first) with what the check caught marked; any
    status for the history."""
    _require(actor, VIEW)
    total = await ProductRating.count().where(_queue_where(filters))
    rows = await _queue_rows(filters, per_page, (page - 1) * per_page)
    banned = await banned_phrases()
    return [_queue_row(row, actor, banned) for row in rows], total


async def export_queue(actor: Actor, filters: QueueFilters, file_format: str) -> Export:
    _require(actor, VIEW)
    rows = await _queue_rows(filters, MAX_EXPORT_ROWS + 1, 0)
    async with transaction():
        await audit(
            actor,
            "rating.export",
            "product_rating",
            filters.status or "all",
            filters=filters.as_query(),
            rows=min(len(rows), MAX_EXPORT_ROWS),
            format=file_format,
        )
    banned = await banned_phrases()
    shown = [_queue_row(row, actor, banned) for row in rows[:MAX_EXPORT_ROWS]]
    headers = [
        _("编号"),
        _("产品"),
        _("机构"),
        _("作者"),
        _("星级"),
        _("内容"),
        _("状态"),
        _("原因"),
        _("机构举报"),
        _("处理说明"),
        _("处理人"),
        _("提交时间"),
        _("更新时间"),
    ]
    cells: list[list[object]] = [
        [
            row.id,
            row.product_name,
            row.institution_name,
            row.author,
            row.stars,
            row.text,
            row.status_label,
            "、".join(row.hold_labels),
            row.report_reason,
            row.decision_reason,
            row.moderator_name,
            row.created_at,
            row.updated_at,
        ]
        for row in shown
    ]
    return export_file(
        file_format,
        f"ratings-{filters.status or 'all'}",
        _("评价审核"),
        headers,
        cells,
        limit=MAX_EXPORT_ROWS,
        truncated=len(rows) > MAX_EXPORT_ROWS,
    )
