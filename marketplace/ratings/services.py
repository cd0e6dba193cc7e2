"""Verbs on ratings (P11): a borrower rates a product they applied to (or edits their
rating while it is not published), votes another's rating "有用"; the product's
institution replies once or reports a rating; operators approve, reject or hide. Every
write is audited in its transaction; the author hears of a rejection or a reply, the
institution of a new published rating."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied, Refused
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.loans.tables import Loan
from marketplace.parsing import FieldError, parse_int, parse_text
from marketplace.products.tables import Product
from marketplace.ratings.moderation import CHECKER, Finding, check, personal_data
from marketplace.ratings.statuses import (
    DECISIONS,
    EDITABLE,
    HOLD_LABELS,
    MODERATE,
    NEEDS_REASON,
    RATING_MACHINE,
    REPLY,
    WRITE,
    HoldReason,
    RatingStatus,
)
from marketplace.ratings.tables import REASON_MAX, TEXT_MAX, ProductRating, RatingReply, RatingVote

STARS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Eligibility:
    """Why a borrower may rate a product: their application to it, and whether one of
    their applications to it led to a disbursed loan (the "已放款" label)."""

    application_id: int
    disbursed: bool


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


def _text(raw: object, field: str, label: str, maximum: int, *, required: bool) -> str:
    try:
        return parse_text(
            raw, label=label, max_length=maximum, min_length=1 if required else 0, multiline=True
        )
    except FieldError as exc:
        raise DomainError(exc.message, field=field) from exc


def parse_stars(raw: object) -> int:
    try:
        return parse_int(raw, label=_("评分"), minimum=1, maximum=5)
    except FieldError:
        raise DomainError(_("请选择 1 到 5 星"), field="rating") from None


def rating_link(product_id: int) -> str:
    return f"/products/{product_id}#ratings"


async def eligibility(borrower_id: int | None, product_id: int) -> Eligibility | None:
    """Any application of the borrower to the product, whatever became of it (withdrawn
    or rejected too: they went through the product's process and may say how it was)."""
    if borrower_id is None:
        return None
    applications = await Application.select(Application.id).where(
        (Application.borrower == borrower_id) & (Application.product == product_id)
    )
    if not applications:
        return None
    ids = [row["id"] for row in applications]
    loan = (
        await Loan.select(Loan.application)
        .where(Loan.application.is_in(ids))
        .order_by(Loan.id)
        .first()
    )
    if loan is not None:
        return Eligibility(application_id=loan["application"], disbursed=True)
    return Eligibility(application_id=max(ids), disbursed=False)


async def _eligible(actor: Actor, product_id: int) -> Eligibility:
    _require(actor, WRITE)
    if not await Product.exists().where(Product.id == product_id):
        raise NotFound(_("找不到该产品"))
    found = await eligibility(actor.user_id, product_id)
    if found is None:
        raise Refused(_("只有申请过该产品的借款人才能评价"))
    return found


def _reason_codes(found: list[Finding]) -> list[str]:
    return [finding.key for finding in found]


async def _product_row(product_id: int) -> dict[str, Any]:
    row = (
        await Product.select(Product.name, Product.institution)
        .where(Product.id == product_id)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    return row


async def _announce_published(product_id: int, stars: int) -> None:
    product = await _product_row(product_id)
    await notify_institution(
        product["institution"],
        "rating.published",
        _("“{name}”收到一条新的{stars}星评价", name=product["name"], stars=stars),
        "/console/ratings",
        permission=REPLY,
    )


async def submit_rating(
    actor: Actor, product_id: int, raw_rating: object, raw_text: object
) -> RatingStatus:
    """Rate the product, or edit one's rating while it is not published; the text goes
    through the automatic check: clean publishes at once, caught waits for an operator.
    Returns where the rating went (published or held)."""
    stars_error = None
    try:
        stars = parse_stars(raw_rating)
    except DomainError as exc:
        stars_error, stars = exc, 0
    text = _text(raw_text, "text", _("评价内容"), TEXT_MAX, required=False)
    if stars_error:
        raise stars_error
    found = await check(text)
    async with transaction():
        verified = await _eligible(actor, product_id)
        mine = (ProductRating.product == product_id) & (ProductRating.borrower == actor.user_id)
        now = datetime.now(UTC)
        inserted = (
            await ProductRating.insert(
                ProductRating(
                    product=product_id,
                    borrower=actor.user_id,
                    application=verified.application_id,
                    rating=stars,
                    text=text,
                    status=RatingStatus.PENDING,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(ProductRating.id)
        )
        if inserted:
            rating_id = int(inserted[0]["id"])
        else:
            row = await ProductRating.select().where(mine).lock_rows().first()
            if row is None:  # pragma: no cover - the unique index held it a moment ago
                raise DomainError(_("请稍后重试"))
            if row["status"] not in EDITABLE:
                raise DomainError(_("评价已发布，不能再修改"), field="_form")
            rating_id = row["id"]
        action = "hold" if found else "publish"
        target = RATING_MACHINE.target(RatingStatus.PENDING, action, CHECKER)
        await ProductRating.update(
            {
                ProductRating.application: verified.application_id,
                ProductRating.rating: stars,
                ProductRating.text: text,
                ProductRating.status: target,
                ProductRating.hold_reasons: json.dumps(_reason_codes(found)),
                ProductRating.report_reason: "",
                ProductRating.decision_reason: "",
                ProductRating.updated_at: now,
                ProductRating.published_at: now if target is RatingStatus.PUBLISHED else None,
                ProductRating.version: ProductRating.version + (0 if inserted else 1),
            }
        ).where(ProductRating.id == rating_id)
        await audit(
            actor,
            "rating.submit",
            "product_rating",
            rating_id,
            product=product_id,
            rating=stars,
            status=str(target),
            reasons=_reason_codes(found),
        )
        if target is RatingStatus.PUBLISHED:
            await _announce_published(product_id, stars)
    return target


async def _published(rating_id: int, *, lock: bool = False) -> dict[str, Any]:
    query = ProductRating.select(
        ProductRating.id,
        ProductRating.product,
        ProductRating.product.institution.as_alias("institution"),
        ProductRating.borrower,
        ProductRating.status,
    ).where(ProductRating.id == rating_id)
    row = await (query.lock_rows(of=(ProductRating,)) if lock else query).first()
    if row is None or row["status"] != RatingStatus.PUBLISHED:
        raise NotFound(_("找不到该评价"))
    return row


async def vote_helpful(actor: Actor, rating_id: int) -> int:
    """Count the actor's "有用" once (a second click or a parallel one does nothing); not
    on one's own rating. Returns the rating's product (to go back to its page)."""
    _require(actor, WRITE)
    async with transaction():
        rating = await _published(rating_id)
        if rating["borrower"] == actor.user_id:
            raise DomainError(_("不能给自己的评价点“有用”"))
        rows = (
            await RatingVote.insert(RatingVote(rating=rating_id, voter=actor.user_id))
            .on_conflict(action="DO NOTHING")
            .returning(RatingVote.id)
        )
        if rows:
            await ProductRating.update(
                {ProductRating.helpful_count: ProductRating.helpful_count + 1}
            ).where(ProductRating.id == rating_id)
            await audit(actor, "rating.vote", "product_rating", rating_id)
    return int(rating["product"])


async def _own_published(actor: Actor, rating_id: int, *, lock: bool = False) -> dict[str, Any]:
    """A published rating of one of the actor's institution's products; others' are 404."""
    _require(actor, REPLY)
    rating = await _published(rating_id, lock=lock)
    if rating["institution"] != actor.institution_id:
        raise NotFound(_("找不到该评价"))
    return rating


def _no_personal_data(text: str, field: str) -> None:
    found = personal_data(text)
    if found:
        labels = "、".join(_(HOLD_LABELS[finding.reason]) for finding in found)
        raise DomainError(_("内容{what}，请删去个人信息后再提交", what=labels), field=field)


async def reply(actor: Actor, rating_id: int, raw_text: object) -> None:
    """The institution's one public reply to a published rating of its product."""
    text = _text(raw_text, "reply", _("回复"), TEXT_MAX, required=True)
    _no_personal_data(text, "reply")
    async with transaction():
        rating = await _own_published(actor, rating_id)
        rows = (
            await RatingReply.insert(
                RatingReply(
                    rating=rating_id,
                    institution=actor.institution_id,
                    author=actor.user_id,
                    text=text,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(RatingReply.id)
        )
        if not rows:
            raise DomainError(_("该评价已回复过，每条评价只能回复一次"), field="reply")
        await audit(actor, "rating.reply", "product_rating", rating_id)
        await notify_borrower(
            rating["borrower"],
            "rating.reply",
            _("机构回复了你的评价"),
            rating_link(rating["product"]),
        )


async def report(actor: Actor, rating_id: int, raw_reason: object) -> None:
    """Send a published rating back to the operators' queue with the institution's
    reason; it leaves the product page until an operator decides."""
    reason = _text(raw_reason, "reason", _("举报原因"), REASON_MAX, required=True)
    async with transaction():
        rating = await _own_published(actor, rating_id, lock=True)
        target = RATING_MACHINE.target(rating["status"], "report", actor)
        current = (
            await ProductRating.select(ProductRating.hold_reasons)
            .where(ProductRating.id == rating_id)
            .first()
        )
        reasons = _codes(current["hold_reasons"] if current else [])
        if HoldReason.REPORTED not in reasons:
            reasons.append(str(HoldReason.REPORTED))
        await ProductRating.update(
            {
                ProductRating.status: target,
                ProductRating.hold_reasons: json.dumps(reasons),
                ProductRating.report_reason: reason,
                ProductRating.updated_at: datetime.now(UTC),
            }
        ).where(ProductRating.id == rating_id)
        await audit(actor, "rating.report", "product_rating", rating_id, reason=reason)


def _codes(stored: object) -> list[str]:
    value = json.loads(stored) if isinstance(stored, str) else stored
    return [str(code) for code in value] if isinstance(value, list) else []


async def moderate(actor: Actor, rating_id: int, action: str, raw_reason: object) -> None:
    """Approve (publish) or reject a held rating, or hide a published one; rejecting and
    hiding need a reason, which the author reads."""
    _require(actor, MODERATE)
    if action not in DECISIONS:
        raise NotFound()
    reason = _text(raw_reason, "reason", _("原因"), REASON_MAX, required=action in NEEDS_REASON)
    async with transaction():
        row = (
            await ProductRating.select(
                ProductRating.id,
                ProductRating.status,
                ProductRating.product,
                ProductRating.borrower,
                ProductRating.rating,
                ProductRating.published_at,
            )
            .where(ProductRating.id == rating_id)
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("找不到该评价"))
        target = RATING_MACHINE.target(row["status"], action, actor)
        now = datetime.now(UTC)
        values: dict[Any, Any] = {
            ProductRating.status: target,
            ProductRating.moderator: actor.user_id,
            ProductRating.moderated_at: now,
            ProductRating.decision_reason: reason,
            ProductRating.updated_at: now,
        }
        if target is RatingStatus.PUBLISHED:
            values[ProductRating.published_at] = row["published_at"] or now
        await ProductRating.update(values).where(ProductRating.id == rating_id)
        await audit(actor, f"rating.{action}", "product_rating", rating_id, reason=reason)
        if action == "approve" and row["published_at"] is None:
            await _announce_published(row["product"], row["rating"])
        if action in NEEDS_REASON:
            await notify_borrower(
                row["borrower"],
                "rating.rejected",
                _("你的评价未通过审核：{reason}", reason=reason)
                if action == "reject"
                else _("你的评价已被隐藏：{reason}", reason=reason),
                f"/products/{row['product']}/ratings/new",
            )


async def forget_ratings(user_id: int) -> None:
    """An erased account's ratings go (with their votes and replies), and its votes on
    others' ratings stop counting. Runs inside the erasure's transaction."""
    voted = await RatingVote.select(RatingVote.rating).where(RatingVote.voter == user_id)
    for row in voted:
        await ProductRating.update(
            {ProductRating.helpful_count: ProductRating.helpful_count - 1}
        ).where((ProductRating.id == row["rating"]) & (ProductRating.helpful_count > 0))
    await RatingVote.delete().where(RatingVote.voter == user_id)
    await ProductRating.delete().where(ProductRating.borrower == user_id)
