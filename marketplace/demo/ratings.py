"""Demo ratings (P11): six demo borrowers (13500002xx) apply to three listed products of
different institutions through the applications verbs, then rate them; the institutions
reply to some, borrowers vote some "有用", one rating is held (a phone number in its text),
one rejected by the super admin (a banned phrase), one published then reported by its
institution (held again) and one published then hidden by the super admin — so the
moderation queue shows every state a rating can rest in, all through the real verbs."""

from __future__ import annotations

from decimal import Decimal

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.demo.catalogue import DEMO_PASSWORD
from marketplace.demo.decisions import _actor, apply_and_deliver
from marketplace.errors import DomainError
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.ratings.services import moderate, reply, report, submit_rating, vote_helpful
from marketplace.ratings.tables import ProductRating
from marketplace.security import encrypt_field, hash_password, mask_mobile

SUPER = "super@loanmart.example"
BORROWERS = (
    ("13500002001", "陈晓"),
    ("13500002002", "刘阳"),
    ("13500002003", "黄磊"),
    ("13500002004", "周婷"),
    ("13500002005", "吴昊"),
    ("13500002006", "郑敏"),
)
# (product by listing order among distinct institutions, borrower, stars, text, reply)
RATINGS = (
    (0, 0, 5, "审批很快，当天就有结果，客服把每一项费用都讲清楚了。", "感谢认可，我们会继续保持！"),
    (0, 1, 4, "利率和页面上写的一致，没有额外收费，就是需要补一次银行流水。", ""),
    (0, 2, 2, "放款比说的慢了两天，中间没人通知。", "抱歉让您久等，已改进放款进度通知。"),
    (1, 3, 5, "全程线上操作，很方便。", ""),
    (1, 4, 3, "额度比预期低一些，利率还可以。", ""),
    (1, 5, 4, "有问题可以打我电话 135 0000 2006 交流经验", ""),  # held: a mobile number
    (2, 0, 5, "这家包下款，放心借", ""),  # held (banned phrase), then rejected
    (2, 1, 1, "被拒了也没说原因。", "您好，拒绝原因已在申请页说明，欢迎三个月后再申请。"),
    (2, 2, 1, "客服电话根本打不通，这家就是骗人的。", ""),  # published, then reported
    (1, 0, 2, "想要更低利率的可以关注我的公众号，每天分享内部渠道。", ""),  # published, hidden
)
# What happens after publishing (the text says which rating): the institution's report
# and the operator's hiding, each with the reason its author reads.
REPORTED = ("骗人的", "该借款人未在我行提交过申请，评价与事实不符，请平台核实")
HIDDEN = ("公众号", "引流广告，与产品使用体验无关")
VOTES = ((0, 1, 3), (0, 1, 4), (0, 0, 5), (1, 3, 0))  # (product, author, voter)


async def _borrower(mobile: str, name: str, number: int) -> Actor:
    row = await User.select(User.id).where(User.login_key == mobile_login_key(mobile)).first()
    if row is None:
        rows = await User.insert(
            User(
                kind="borrower",
                login_key=mobile_login_key(mobile),
                display_name=name,
                mobile_encrypted=encrypt_field(mobile, context="user.mobile"),
                mobile_masked=mask_mobile(mobile),
                password_hash=hash_password(DEMO_PASSWORD),
                role="borrower",
            )
        ).returning(User.id)
        row = rows[0]
    return Actor(
        user_id=row["id"],
        kind="borrower",
        label=name,
        role="borrower",
        ip=f"192.0.2.{120 + number}",
        device=f"{number + 0x70:02x}" * 16,
        permissions=permissions_of("borrower", "borrower"),
    )


async def _products() -> list[dict]:
    """The first listed product of each of three institutions."""
    rows = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
            Product.institution.city.as_alias("institution_city"),
        )
        .where(Product.status == ProductStatus.LISTED)
        .order_by(Product.id)
        .output(load_json=True)
    )
    chosen: dict[int, dict] = {}
    for row in rows:
        chosen.setdefault(row["institution"], row)
    return list(chosen.values())[:3]


async def _staff(institution_id: int) -> Actor | None:
    row = (
        await User.select(User.login_key)
        .where(
            (User.institution == institution_id)
            & (User.role == "institution_admin")
            & (User.status == "active")
        )
        .order_by(User.id)
        .first()
    )
    return await _actor(row["login_key"]) if row else None


async def _rating_id(product_id: int, borrower: Actor) -> int | None:
    row = (
        await ProductRating.select(ProductRating.id)
        .where((ProductRating.product == product_id) & (ProductRating.borrower == borrower.user_id))
        .first()
    )
    return row["id"] if row else None


async def seed_ratings() -> int:
    """Once (nothing when it has run or there are no listed products); returns how many
    ratings were submitted."""
    operator = await _actor(SUPER)
    products = await _products()
    if operator is None or len(products) < 3 or await ProductRating.exists():
        return 0
    borrowers = [await _borrower(mobile, name, n) for n, (mobile, name) in enumerate(BORROWERS)]
    submitted = 0
    for nth, who, stars, text, answer in RATINGS:
        product, borrower = products[nth], borrowers[who]
        try:
            await apply_and_deliver(
                borrower,
                product,
                amount=Decimal(product["amount_min"]),
                term_months=product["term_options"][0],
                city=(product["cities"] or [product["institution_city"]])[0],
            )
            await submit_rating(borrower, product["id"], str(stars), text)
        except DomainError:
            continue
        submitted += 1
        rating_id = await _rating_id(product["id"], borrower)
        staff = await _staff(product["institution"])
        if rating_id is None:
            continue
        if answer and staff is not None:
            await reply(staff, rating_id, answer)
        if "包下款" in text:
            await moderate(operator, rating_id, "reject", "含违禁词“包下款”，容易误导其他借款人")
        if REPORTED[0] in text and staff is not None:
            await report(staff, rating_id, REPORTED[1])
        if HIDDEN[0] in text:
            await moderate(operator, rating_id, "hide", HIDDEN[1])
    for nth, author, voter in VOTES:
        rating_id = await _rating_id(products[nth]["id"], borrowers[author])
        if rating_id is not None:
            try:
                await vote_helpful(borrowers[voter], rating_id)
            except DomainError:
                continue
    return submitted
