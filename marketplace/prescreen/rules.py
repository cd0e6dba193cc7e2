"""The pre-screen rule language (PRODUCT.md I4): small, typed, evaluated without eval.

A rule set is hard filters (a condition that, when it holds, rejects with a reason code),
a points scorecard (each condition that holds adds its points) and an optional threshold
(a total below it rejects with a reason code). Conditions weigh only the items a borrower
consented to share: monthly income, city, employment type, and the amount asked for over
monthly income. Stored as JSON, parsed back into these types; forms go through
`marketplace.parsing`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from marketplace.cities import covers, parse_city_list
from marketplace.i18n import N_, _
from marketplace.parsing import (
    FieldError,
    FormReader,
    first,
    parse_choice,
    parse_decimal,
    parse_int,
    parse_list,
)
from marketplace.products.catalog import EMPLOYMENT_TYPES


class RuleField(StrEnum):
    MONTHLY_INCOME = "monthly_income"
    AMOUNT_TO_INCOME = "amount_to_income"
    CITY = "city"
    EMPLOYMENT_TYPE = "employment_type"


FIELD_LABELS: dict[RuleField, str] = {
    RuleField.MONTHLY_INCOME: N_("月收入"),
    RuleField.AMOUNT_TO_INCOME: N_("借款金额/月收入"),
    RuleField.CITY: N_("城市"),
    RuleField.EMPLOYMENT_TYPE: N_("职业类型"),
}


class Operator(StrEnum):
    BELOW = "below"  # x < low
    AT_LEAST = "at_least"  # x >= low
    BETWEEN = "between"  # low <= x < high, so bands side by side never overlap
    IN = "in"
    NOT_IN = "not_in"


OPERATOR_LABELS: dict[Operator, str] = {
    Operator.BELOW: N_("低于"),
    Operator.AT_LEAST: N_("不低于"),
    Operator.BETWEEN: N_("介于（含下限，不含上限）"),
    Operator.IN: N_("属于"),
    Operator.NOT_IN: N_("不属于"),
}

NUMERIC_FIELDS = frozenset({RuleField.MONTHLY_INCOME, RuleField.AMOUNT_TO_INCOME})
NUMERIC_OPERATORS = frozenset({Operator.BELOW, Operator.AT_LEAST, Operator.BETWEEN})
LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})

# Bounds of what a rule may say: beyond them a rule is a typo, not a policy.
MAX_INCOME = Decimal("100000000")
MAX_RATIO = Decimal("10000")
MAX_POINTS = 1000
MAX_FILTERS = 20
MAX_SCORE_RULES = 30
MAX_THRESHOLD = MAX_POINTS * MAX_SCORE_RULES
MAX_VALUES = 50
VALUE_MAX_LENGTH = 30  # Application.city


@dataclass(frozen=True)
class LeadFacts:
    """What the rules weigh: the consented items and the amount asked for."""

    monthly_income: Decimal
    amount: Decimal
    city: str
    employment_type: str

    def number(self, field: RuleField) -> Decimal | None:
        """A numeric field's value; None stands for "unbounded" (a ratio over no income)."""
        if field is RuleField.MONTHLY_INCOME:
            return self.monthly_income
        if self.monthly_income <= 0:
            return None
        return self.amount / self.monthly_income

    def text(self, field: RuleField) -> str:
        return self.city if field is RuleField.CITY else self.employment_type


@dataclass(frozen=True)
class Condition:
    field: RuleField
    operator: Operator
    low: Decimal | None = None
    high: Decimal | None = None
    values: tuple[str, ...] = ()

    def holds(self, facts: LeadFacts) -> bool:
        if self.operator in LIST_OPERATORS:
            if self.field is RuleField.CITY:
                inside = covers(self.values, facts.city)
            else:
                inside = facts.text(self.field) in self.values
            return inside if self.operator is Operator.IN else not inside
        value = facts.number(self.field)
        assert self.low is not None
        if self.operator is Operator.AT_LEAST:
            return value is None or value >= self.low
        if value is None:  # unbounded: below nothing, inside no band
            return False
        if self.operator is Operator.BELOW:
            return value < self.low
        assert self.high is not None
        return self.low <= value < self.high

    def describe(self) -> str:
        """ "月收入 介于 8,000–15,000", translated as read."""
        field = _(FIELD_LABELS[self.field])
        if self.operator in LIST_OPERATORS:
            shown = [
                _(EMPLOYMENT_TYPES.get(value, value))
                if self.field is RuleField.EMPLOYMENT_TYPE
                else value
                for value in self.values
            ]
            return _(
                "{field}{operator}{values}",
                field=field,
                operator=_(OPERATOR_LABELS[self.operator]),
                values="、".join(shown),
            )
        if self.operator is Operator.BETWEEN:
            return _(
                "{field} {low}–{high}",
                field=field,
                low=_number(self.field, self.low),
                high=_number(self.field, self.high),
            )
        return _(
            "{field}{operator} {value}",
            field=field,
            operator=_(OPERATOR_LABELS[self.operator]),
            value=_number(self.field, self.low),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "field": str(self.field),
            "operator": str(self.operator),
            "low": None if self.low is None else str(self.low),
            "high": None if self.high is None else str(self.high),
            "values": list(self.values),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            field=RuleField(data["field"]),
            operator=Operator(data["operator"]),
            low=None if data.get("low") is None else Decimal(data["low"]),
            high=None if data.get("high") is None else Decimal(data["high"]),
            values=tuple(data.get("values") or ()),
        )


def _number(field: RuleField, value: Decimal | None) -> str:
    if value is None:
        return ""
    if field is RuleField.AMOUNT_TO_INCOME:
        return _("{ratio} 倍", ratio=f"{value.normalize():f}")
    return f"{value:,.2f}".removesuffix(".00")


@dataclass(frozen=True)
class HardFilter:
    condition: Condition
    reason: str  # a code of the rejection_reasons parameter


@dataclass(frozen=True)
class ScoreRule:
    condition: Condition
    points: int


@dataclass(frozen=True)
class Rules:
    filters: tuple[HardFilter, ...] = ()
    scores: tuple[ScoreRule, ...] = ()
    threshold: int | None = None
    threshold_reason: str = ""

    @property
    def empty(self) -> bool:
        return not self.filters and not self.scores and self.threshold is None

    def as_json(self) -> dict[str, Any]:
        return {
            "filters": [
                {"condition": f.condition.as_json(), "reason": f.reason} for f in self.filters
            ],
            "scores": [
                {"condition": s.condition.as_json(), "points": s.points} for s in self.scores
            ],
            "threshold": self.threshold,
            "threshold_reason": self.threshold_reason,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | str) -> Rules:
        """From the JSONB column (text from a plain select, a dict once loaded)."""
        data = json.loads(stored) if isinstance(stored, str) else stored
        return cls(
            filters=tuple(
                HardFilter(Condition.from_json(f["condition"]), str(f["reason"]))
                for f in data.get("filters", ())
            ),
            scores=tuple(
                ScoreRule(Condition.from_json(s["condition"]), int(s["points"]))
                for s in data.get("scores", ())
            ),
            threshold=data.get("threshold"),
            threshold_reason=str(data.get("threshold_reason") or ""),
        )


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    REJECT = "reject"


OUTCOME_LABELS: dict[Outcome, str] = {Outcome.PASS: N_("通过"), Outcome.REJECT: N_("拒绝")}


@dataclass(frozen=True)
class Line:
    """One rule's part in a verdict: a filter that held (or not), points won, the threshold."""

    kind: str  # "filter" | "score" | "threshold"
    held: bool
    condition: Condition | None = None
    points: int = 0
    reason: str = ""
    threshold: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "held": self.held,
            "condition": None if self.condition is None else self.condition.as_json(),
            "points": self.points,
            "reason": self.reason,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Line:
        condition = data.get("condition")
        return cls(
            kind=str(data["kind"]),
            held=bool(data["held"]),
            condition=None if condition is None else Condition.from_json(condition),
            points=int(data.get("points") or 0),
            reason=str(data.get("reason") or ""),
            threshold=data.get("threshold"),
        )


def lines_from_json(stored: list[Any] | str) -> tuple[Line, ...]:
    data = json.loads(stored) if isinstance(stored, str) else stored
    return tuple(Line.from_json(item) for item in data)


@dataclass(frozen=True)
class Verdict:
    score: int
    outcome: Outcome
    reason: str  # the rejection's code; "" when the lead passes
    lines: tuple[Line, ...]


def evaluate(rules: Rules, facts: LeadFacts) -> Verdict:
    """Score every rule; the first hard filter that holds rejects, else a total under the
    threshold does. Every rule gets a line, so the explanation is complete."""
    lines: list[Line] = []
    reason = ""
    for hard in rules.filters:
        held = hard.condition.holds(facts)
        lines.append(Line("filter", held, hard.condition, reason=hard.reason))
        if held and not reason:
            reason = hard.reason
    score = 0
    for rule in rules.scores:
        held = rule.condition.holds(facts)
        lines.append(Line("score", held, rule.condition, points=rule.points if held else 0))
        score += rule.points if held else 0
    if rules.threshold is not None:
        below = score < rules.threshold
        lines.append(
            Line("threshold", below, reason=rules.threshold_reason, threshold=rules.threshold)
        )
        if below and not reason:
            reason = rules.threshold_reason
    return Verdict(
        score=score,
        outcome=Outcome.REJECT if reason else Outcome.PASS,
        reason=reason,
        lines=tuple(lines),
    )


# Parsing what a rule form sends. Every field is checked; a rejected form shows them all.


def parse_condition(form: FormReader, prefix: str) -> Condition | None:
    """The condition fields of a rule form: {prefix}field, operator, low, high, values
    (the page has a filter form and a score form; their field names differ by prefix)."""
    key = {name: f"{prefix}{name}" for name in ("field", "operator", "low", "high", "values")}
    field = form.field(key["field"], parse_choice, "", choices=FIELD_LABELS, label=_("字段"))
    operator = form.field(
        key["operator"], parse_choice, "", choices=OPERATOR_LABELS, label=_("条件")
    )
    if not field or not operator:
        return None
    rule_field, rule_operator = RuleField(field), Operator(operator)
    numeric = rule_field in NUMERIC_FIELDS
    if numeric != (rule_operator in NUMERIC_OPERATORS):
        allowed = [
            _(label)
            for op, label in OPERATOR_LABELS.items()
            if (op in NUMERIC_OPERATORS) == numeric
        ]
        form.fail(
            key["operator"],
            _(
                "“{field}”可用的条件：{choices}",
                field=_(FIELD_LABELS[rule_field]),
                choices="、".join(allowed),
            ),
        )
        return None
    if rule_field is RuleField.CITY:
        cities: list[str] = form.field(
            key["values"], parse_city_list, list[str](), label=_("城市"), max_items=MAX_VALUES
        )
        if not cities:
            form.fail(key["values"], _("请填写取值，多个用逗号或顿号分隔"))
        return Condition(rule_field, rule_operator, values=tuple(cities))
    if not numeric:
        values: list[str] = form.field(
            key["values"],
            parse_list,
            list[str](),
            label=_("取值"),
            max_length=VALUE_MAX_LENGTH,
            max_items=MAX_VALUES,
        )
        if rule_field is RuleField.EMPLOYMENT_TYPE:
            values = _employment_codes(form, key["values"], values)
        if not values:
            form.fail(key["values"], _("请填写取值，多个用逗号或顿号分隔"))
        return Condition(rule_field, rule_operator, values=tuple(values))
    maximum = MAX_INCOME if rule_field is RuleField.MONTHLY_INCOME else MAX_RATIO
    bounds = {"minimum": Decimal(0), "maximum": maximum}
    low = form.field(key["low"], parse_decimal, None, label=_("数值（下限）"), **bounds)
    high = None
    if rule_operator is Operator.BETWEEN:
        high = form.field(key["high"], parse_decimal, None, label=_("上限"), **bounds)
        if low is not None and high is not None and high <= low:
            form.fail(key["high"], _("上限应大于下限"))
    return Condition(rule_field, rule_operator, low=low, high=high)


def _employment_codes(form: FormReader, key: str, values: list[str]) -> list[str]:
    """Employment types by code or by their (translated) name, as a person types them."""
    by_label = {_(label): code for code, label in EMPLOYMENT_TYPES.items()}
    codes: list[str] = []
    for value in values:
        code = value if value in EMPLOYMENT_TYPES else by_label.get(value)
        if code is None:
            form.fail(
                key,
                _(
                    "没有“{value}”这种职业类型，可选：{choices}",
                    value=value,
                    choices="、".join(by_label),
                ),
            )
            return []
        if code not in codes:
            codes.append(code)
    return codes


def parse_points(raw: Any, *, label: str) -> int:
    """Whole points, negative allowed ("-10" takes points off), within ±MAX_POINTS."""
    return _parse_signed(raw, label=label, bound=MAX_POINTS)


def parse_threshold(raw: Any, *, label: str) -> int:
    return _parse_signed(raw, label=label, bound=MAX_THRESHOLD)


def _parse_signed(raw: Any, *, label: str, bound: int) -> int:
    text = first(raw).strip().replace("－", "-")
    negative = text.startswith("-")
    try:
        value = parse_int(text.removeprefix("-"), label=label, maximum=bound)
    except FieldError:
        raise FieldError(
            _(
                "{label}应为{minimum}到{maximum}之间的整数",
                label=label,
                minimum=-bound,
                maximum=bound,
            )
        ) from None
    return -value if negative else value


def parse_hard_filter(data: Mapping[str, Any], reasons: Mapping[str, str]) -> HardFilter:
    form = FormReader(data)
    condition = parse_condition(form, "filter_")
    reason = form.field("reason", parse_choice, "", choices=reasons, label=_("拒绝原因"))
    form.raise_errors()
    assert condition is not None
    return HardFilter(condition, reason)


def parse_score_rule(data: Mapping[str, Any]) -> ScoreRule:
    form = FormReader(data)
    condition = parse_condition(form, "score_")
    points = form.field("points", parse_points, 0, label=_("分值"))
    form.raise_errors()
    assert condition is not None
    return ScoreRule(condition, points)


@dataclass(frozen=True)
class Threshold:
    value: int | None
    reason: str


def parse_threshold_form(data: Mapping[str, Any], reasons: Mapping[str, str]) -> Threshold:
    """An empty threshold removes it; a threshold needs its rejection reason."""
    form = FormReader(data)
    if not first(data.get("threshold")).strip():
        return Threshold(None, "")
    value = form.field("threshold", parse_threshold, None, label=_("最低分"))
    reason = form.field("threshold_reason", parse_choice, "", choices=reasons, label=_("拒绝原因"))
    form.raise_errors()
    return Threshold(value, reason)
