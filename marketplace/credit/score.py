"""The credit-health score: four factors, each scored 0–100 by a published rule, combined
by the weights in the system parameters. Pure: facts in, score and tips out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from marketplace.i18n import N_, _
from marketplace.money import format_cny


class Factor(StrEnum):
    VELOCITY = "velocity"
    REPAYMENT = "repayment"
    DEBT_TO_INCOME = "dti"
    OVERDUE = "overdue"


FACTOR_LABELS: dict[Factor, str] = {
    Factor.VELOCITY: N_("申请频率"),
    Factor.REPAYMENT: N_("还款记录"),
    Factor.DEBT_TO_INCOME: N_("负债收入比"),
    Factor.OVERDUE: N_("逾期情况"),
}
# The system parameter holding each factor's weight (a whole number; shares of their sum).
WEIGHT_PARAMETERS: dict[Factor, str] = {
    Factor.VELOCITY: "credit_weight_velocity",
    Factor.REPAYMENT: "credit_weight_repayment",
    Factor.DEBT_TO_INCOME: "credit_weight_dti",
    Factor.OVERDUE: "credit_weight_overdue",
}
VELOCITY_DAYS = 30
# Applications within VELOCITY_DAYS → factor points; more than the last row scores 10.
_VELOCITY_POINTS = tuple((Decimal(n), p) for n, p in ((1, 100), (2, 85), (3, 70), (5, 50), (9, 30)))
# Debt-to-income up to the ratio → points; above the last row scores 10.
_DTI_POINTS = (
    (Decimal("0.2"), 100),
    (Decimal("0.35"), 80),
    (Decimal("0.5"), 55),
    (Decimal("0.7"), 30),
)
NO_RECORD_POINTS = 60
NO_INCOME_POINTS = 50


@dataclass(frozen=True)
class CreditFacts:
    applications_recent: int  # submitted in the last VELOCITY_DAYS days
    instalments_due: int  # instalments of loans tracked here that have fallen due
    instalments_on_time: int  # … of which paid in full by their due date
    monthly_income: Decimal | None  # stated in the application profile
    monthly_payments: Decimal  # the next instalment of every open loan tracked here
    current_dpd: int  # the worst days past due of an open loan today
    late_instalments: int  # instalments ever paid late or still unpaid past due


@dataclass(frozen=True)
class FactorScore:
    factor: Factor
    points: int  # 0–100
    weight: int
    detail: str  # what the facts are, in words
    tips: tuple[str, ...]

    @property
    def label(self) -> str:
        return _(FACTOR_LABELS[self.factor])


@dataclass(frozen=True)
class CreditScore:
    score: int  # 0–100
    factors: tuple[FactorScore, ...]

    @property
    def band(self) -> str:
        if self.score >= 85:
            return _("优秀")
        if self.score >= 70:
            return _("良好")
        if self.score >= 55:
            return _("一般")
        return _("需关注")

    def points(self) -> dict[str, int]:
        return {f.factor.value: f.points for f in self.factors}


def _stepped(value: Decimal, steps: tuple[tuple[Decimal, int], ...], above: int) -> int:
    """The points of the first step whose limit `value` does not exceed, else `above`."""
    for limit, points in steps:
        if value <= limit:
            return points
    return above


def velocity(facts: CreditFacts) -> tuple[int, str, tuple[str, ...]]:
    n = facts.applications_recent
    points = _stepped(Decimal(n), _VELOCITY_POINTS, 10)
    detail = _("最近{days}天提交了{n}笔借款申请", days=VELOCITY_DAYS, n=n)
    if points >= 85:
        return points, detail, (_("保持现状：需要时再申请，先用贷款计算器比较总成本。"),)
    return (
        points,
        detail,
        (
            _(
                "短期内多次申请会让机构认为您资金紧张。建议{days}天内不超过2笔。",
                days=VELOCITY_DAYS,
            ),
            _("申请前先对比综合年化利率和申请条件，只申请最合适的一两家。"),
        ),
    )


def repayment(facts: CreditFacts) -> tuple[int, str, tuple[str, ...]]:
    if facts.instalments_due == 0:
        return (
            NO_RECORD_POINTS,
            _("在本平台还没有到期的还款记录"),
            (_("通过本平台借款并按时还款，会逐步积累还款记录。"),),
        )
    on_time = min(facts.instalments_on_time, facts.instalments_due)
    points = on_time * 100 // facts.instalments_due
    detail = _("已到期的{due}期还款中，{ok}期按时还清", due=facts.instalments_due, ok=on_time)
    if points == 100:
        return points, detail, (_("全部按时还款，请继续保持。"),)
    return (
        points,
        detail,
        (
            _("在“我的借款”中打开还款日历，或订阅到手机日历，避免错过还款日。"),
            _("还款日前3天会收到提醒；可在“短信通知设置”中保持“还款提醒”开启。"),
        ),
    )


def debt_to_income(facts: CreditFacts) -> tuple[int, str, tuple[str, ...]]:
    if not facts.monthly_income or facts.monthly_income <= 0:
        return (
            NO_INCOME_POINTS,
            _("尚未填写月收入，无法计算负债收入比"),
            (_("申请时如实填写月收入，信用健康分才能反映您的还款能力。"),),
        )
    ratio = facts.monthly_payments / facts.monthly_income
    points = _stepped(ratio, _DTI_POINTS, 10)
    detail = _(
        "每月还款 {payments}，占月收入 {income} 的 {pct}%",
        payments=format_cny(facts.monthly_payments),
        income=format_cny(facts.monthly_income),
        pct=int((ratio * 100).to_integral_value()),
    )
    if points >= 80:
        return (
            points,
            detail,
            (_("负债水平健康。新增借款前，先算一算每月还款是否仍在收入的35%以内。"),),
        )
    return (
        points,
        detail,
        (
            _("每月还款超过收入的35%时还款压力较大，建议先还清部分借款再申请新的借款。"),
            _("提前还款前请在借款详情中确认是否收取提前还款费用。"),
        ),
    )


def overdue(facts: CreditFacts) -> tuple[int, str, tuple[str, ...]]:
    if facts.current_dpd > 0:
        points = 0 if facts.current_dpd > 90 else 10 if facts.current_dpd > 30 else 30
        return (
            points,
            _("目前有借款逾期{days}天", days=facts.current_dpd),
            (
                _("请尽快还清逾期款项：逾期时间越长，对信用的影响越大，还可能产生罚息。"),
                _("确有困难时，主动联系贷款机构协商还款安排。"),
            ),
        )
    if facts.late_instalments == 0:
        return 100, _("没有逾期记录"), (_("没有逾期记录，请继续保持。"),)
    points = 70 if facts.late_instalments <= 2 else 45
    return (
        points,
        _("曾有{n}期未按时还款，目前已无逾期", n=facts.late_instalments),
        (_("已还清逾期款项。此后按时还款，这一项会随时间改善。"),),
    )


_RULES = {
    Factor.VELOCITY: velocity,
    Factor.REPAYMENT: repayment,
    Factor.DEBT_TO_INCOME: debt_to_income,
    Factor.OVERDUE: overdue,
}


def credit_score(facts: CreditFacts, weights: dict[Factor, int]) -> CreditScore:
    """Weighted mean of the factor points, rounded half up. Weights of zero or less leave
    a factor out; if every weight is, all count equally."""
    usable = {f: max(0, int(weights.get(f, 0))) for f in Factor}
    if not any(usable.values()):
        usable = dict.fromkeys(Factor, 1)
    factors = []
    for factor, rule in _RULES.items():
        points, detail, tips = rule(facts)
        factors.append(FactorScore(factor, points, usable[factor], detail, tips))
    total_weight = sum(usable.values())
    weighted = sum(f.points * f.weight for f in factors)
    score = (2 * weighted + total_weight) // (2 * total_weight)
    return CreditScore(score, tuple(factors))
