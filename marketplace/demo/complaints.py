"""Demo complaints (A10) and their published statistics (§6.5): four demo borrowers
(1350000300x) apply to 华信, 云帆 and 瀚海 and complain — one complaint in every state (open,
assigned, awaiting the institution, resolved awaiting a rating, closed with a rating, reopened
and escalated, closed by an operator), one overdue, one answered late, against several
institutions and the platform; the main demo borrower complains about collection calls on his
overdue loan (linked to the collection record); one signed-in and one anonymous feedback.

Everything goes through the complaint verbs. Complaints that stand for days of history are
played at their own moments on the complaints clock (the one time source of the desk), so
deadlines, the overdue mark and the resolution times the statistics publish are what a live
run would leave. Finally the statistics snapshot is computed, with the sample minimum lowered
to the demo's few applications (an audited parameter change)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from marketplace import clock
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.applications.tables import Application
from marketplace.collections.tables import CollectionContact
from marketplace.complaints.services import (
    ComplaintInput,
    FeedbackInput,
    answer,
    assign,
    close,
    file_complaint,
    forward,
    rate,
    reopen,
    resolve,
    run_sla,
    send_feedback,
)
from marketplace.complaints.stats import MIN_APPLICATIONS_PARAMETER, refresh_complaint_stats
from marketplace.complaints.tables import Complaint
from marketplace.demo.catalogue import DEMO_PASSWORD
from marketplace.demo.decisions import _actor, _borrower_mobile
from marketplace.demo.offers import _apply
from marketplace.errors import DomainError
from marketplace.loans.statuses import LoanStatus
from marketplace.loans.tables import Loan
from marketplace.parameters.services import change_parameter
from marketplace.security import encrypt_field, hash_password, mask_mobile

OPERATOR = "super@loanmart.example"
HUAXIN = "admin@huaxin-bank.example"
YUNFAN = "admin@yunfan-bank.example"
HANHAI = "admin@hanhai-bank.example"
# Demo borrowers of this module: 13500003001… (the e2e tests use 137000xxxxx).
BORROWERS = (
    ("13500003001", "周婷"),
    ("13500003002", "吴刚"),
    ("13500003003", "郑丽"),
    ("13500003004", "孙浩"),
)
# The demo has a handful of applications per institution: publish rates from 3.
DEMO_MIN_APPLICATIONS = 3


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    """Play the desk's steps at `moment` (the complaints clock is their only time source)."""
    with mock.patch.object(clock, "now", return_value=moment):
        yield


async def _borrower(mobile: str, name: str) -> Actor:
    await User.insert(
        User(
            kind="borrower",
            login_key=mobile_login_key(mobile),
            display_name=name,
            mobile_encrypted=encrypt_field(mobile, context="user.mobile"),
            mobile_masked=mask_mobile(mobile),
            password_hash=hash_password(DEMO_PASSWORD),
            role="borrower",
        )
    )
    actor = await _actor(mobile_login_key(mobile))
    assert actor is not None
    return actor


async def _id(reference: str) -> int:
    row = await Complaint.select(Complaint.id).where(Complaint.reference == reference).first()
    assert row is not None
    return int(row["id"])


async def _reference(application_id: int | None) -> str:
    if application_id is None:
        return ""
    row = (
        await Application.select(Application.reference)
        .where(Application.id == application_id)
        .first()
    )
    return str(row["reference"]) if row else ""


class Desk:
    """The demo's cast: the operator, the institutions' admins, the clock's `now`."""

    def __init__(self, operator: Actor, staff: dict[str, Actor], now: datetime) -> None:
        self.operator = operator
        self.staff = staff
        self.now = now

    def ago(self, hours: float) -> datetime:
        return self.now - timedelta(hours=hours)

    async def file(
        self,
        borrower: Actor,
        hours_ago: float,
        target: Actor | None,
        category: str,
        text: str,
        application: str = "",
    ) -> tuple[str, int]:
        with _at(self.ago(hours_ago)):
            reference = await file_complaint(
                borrower,
                ComplaintInput(
                    target=str(target.institution_id) if target else "platform",
                    category=category,
                    description=text,
                    application=application,
                ),
            )
        return reference, await _id(reference)

    async def forwarded(self, complaint_id: int, hours_ago: float, note: str) -> None:
        with _at(self.ago(hours_ago)):
            await assign(self.operator, complaint_id)
        with _at(self.ago(hours_ago - 0.5)):
            await forward(self.operator, complaint_id, note)

    async def answered(self, staff: Actor, complaint_id: int, hours_ago: float, text: str) -> None:
        with _at(self.ago(hours_ago)):
            await answer(staff, complaint_id, text)


async def _collection_complaint(desk: Desk) -> None:
    """The main demo borrower about the calls on his overdue 华信 loan (linked to the
    latest collection contact by the desk)."""
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    if borrower is None:
        return
    contacted = (
        await Loan.select(Loan.application)
        .where(
            (Loan.borrower == borrower.user_id)
            & (Loan.status == LoanStatus.OVERDUE)
            & Loan.id.is_in(CollectionContact.select(CollectionContact.loan))
        )
        .first()
    )
    if contacted is None:
        return
    await desk.file(
        borrower,
        2,
        desk.staff[HUAXIN],
        "collection_abuse",
        "催收人员晚上九点多还在打电话，语气很冲，还说要联系我的单位。我已经承诺本周五前还清。",
        await _reference(contacted["application"]),
    )


async def seed_complaints() -> int:
    """Once (nothing when the demo accounts are missing or this has run); returns the
    complaints and feedback filed."""
    operator = await _actor(OPERATOR)
    staff = {login: await _actor(login) for login in (HUAXIN, YUNFAN, HANHAI)}
    if operator is None or any(actor is None for actor in staff.values()):
        return 0
    if await User.exists().where(User.login_key == mobile_login_key(BORROWERS[0][0])):
        return 0
    cast = {login: actor for login, actor in staff.items() if actor is not None}
    desk = Desk(operator, cast, datetime.now(UTC).replace(microsecond=0))
    b1, b2, b3, b4 = [await _borrower(mobile, name) for mobile, name in BORROWERS]
    huaxin, yunfan, hanhai = cast[HUAXIN], cast[YUNFAN], cast[HANHAI]
    # Borrowers complain about institutions they applied to.
    applied: dict[tuple[Actor, Actor], int | None] = {}
    for borrower, staff_actor in (
        (b1, huaxin),
        (b1, yunfan),
        (b2, huaxin),
        (b3, yunfan),
        (b3, hanhai),
        (b4, hanhai),
    ):
        try:
            applied[(borrower, staff_actor)] = await _apply(borrower, staff_actor, 0)
        except DomainError:
            applied[(borrower, staff_actor)] = None

    # Overdue: forwarded to 瀚海 three days ago, never answered (48 h to answer).
    _ref, overdue = await desk.file(
        b4, 72, hanhai, "opaque_fees", "放款时被扣了一笔“服务费”，合同和页面上都没有写明。"
    )
    await desk.forwarded(overdue, 71, "请核实服务费的收取依据并向借款人说明。")
    # Open: against the platform, an hour ago.
    await desk.file(
        b1, 1, None, "platform", "申请页面上传身份证照片时一直提示失败，换了浏览器也不行。"
    )
    # Assigned: taken by the operator, not yet forwarded.
    _ref, taken = await desk.file(
        b2, 5, huaxin, "service_attitude", "客服电话打了三次都没人接，留言也没有回复。"
    )
    with _at(desk.ago(4.5)):
        await assign(operator, taken)
    # Awaiting the institution: about one of the borrower's applications.
    _ref, waiting = await desk.file(
        b1,
        24,
        huaxin,
        "disbursement_repayment",
        "审批通过已经三天了还没有放款，机构说在走流程但给不出具体时间。",
        await _reference(applied[(b1, huaxin)]),
    )
    await desk.forwarded(waiting, 23, "借款人反映批复后迟迟未放款，请说明进度。")
    # Resolved, awaiting the borrower's rating: 云帆 answered yesterday.
    _ref, answered = await desk.file(
        b3, 48, yunfan, "false_advertising", "广告写“最快3分钟到账”，实际等了两天。"
    )
    await desk.forwarded(answered, 47, "请核实宣传口径。")
    await desk.answered(
        yunfan,
        answered,
        24,
        "已核实：3分钟为系统最快放款时间，您的申请需人工复核。宣传页已补充说明。",
    )
    # Closed with a rating: answered within two days, rated 4.
    reference, rated = await desk.file(
        b1, 240, yunfan, "opaque_fees", "提前还款时被收取了违约金，但申请时说可以随时提前还款。"
    )
    await desk.forwarded(rated, 238, "请核实提前还款费用。")
    await desk.answered(yunfan, rated, 200, "经核实违约金收取有误，已全额退回到您的还款账户。")
    with _at(desk.ago(190)):
        await rate(b1, reference, "4", "退款到账了，就是处理得有点慢。")
    # Answered late (after the 120 hours to resolve) and rated 2.
    reference, late = await desk.file(
        b2, 480, huaxin, "opaque_fees", "账单上的利息比签约时算出来的多，询问后没有解释。"
    )
    await desk.forwarded(late, 478, "请核对该笔借款的利息计算。")
    await desk.answered(huaxin, late, 330, "利息按实际放款日计算，比签约日晚一天，已发送明细。")
    with _at(desk.ago(320)):
        await rate(b2, reference, "2", "解释来得太晚了。")
    # Reopened by the borrower, now escalated to the operators.
    reference, reopened = await desk.file(
        b3, 144, hanhai, "service_attitude", "还款日前一天接到多次提醒电话，要求停止也没有用。"
    )
    await desk.forwarded(reopened, 143, "请核实提醒电话的频次。")
    await desk.answered(hanhai, reopened, 96, "提醒电话为系统自动拨打，已为您关闭。")
    with _at(desk.ago(90)):
        await reopen(b3, reference, "今天又接到了两次电话，问题没有解决。")
    # Closed by an operator: a platform complaint resolved by the desk.
    _ref, platform = await desk.file(b2, 288, None, "platform", "注册时收不到短信验证码。")
    with _at(desk.ago(287)):
        await assign(operator, platform)
    with _at(desk.ago(280)):
        await resolve(operator, platform, "短信通道已于当日修复，您现在可以正常注册和登录。")
    with _at(desk.ago(200)):
        await close(operator, platform)
    await _collection_complaint(desk)
    # Feedback: one signed in, one anonymous with a contact e-mail.
    await send_feedback(
        b4, FeedbackInput(category="suggestion", description="希望产品列表可以按放款速度排序。")
    )
    anonymous = Actor(user_id=None, kind="anonymous", label="anonymous", ip="203.0.113.30")
    await send_feedback(
        anonymous,
        FeedbackInput(
            category="problem_report",
            description="计算器页面在手机上横屏时显示不全。",
            contact="feedback-demo@example.com",
        ),
    )
    # Marks the three-day-old forwarded complaint overdue (and reminds what is due soon).
    await run_sla(desk.now)
    await change_parameter(
        operator,
        MIN_APPLICATIONS_PARAMETER,
        DEMO_MIN_APPLICATIONS,
        reason="演示数据申请量少，降低投诉率公示门槛",
    )
    await refresh_complaint_stats(desk.now)
    return await Complaint.count()
