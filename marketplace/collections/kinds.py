"""What a collection contact is (channel, result), why the platform refuses one, and the
kinds of notice a borrower gets about a loan; each with its zh-CN label."""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    VISIT = "visit"
    LETTER = "letter"
    OTHER = "other"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.PHONE: N_("电话"),
    Channel.SMS: N_("短信"),
    Channel.VISIT: N_("上门"),
    Channel.LETTER: N_("信函"),
    Channel.OTHER: N_("其他"),
}


class Result(StrEnum):
    PROMISED = "promised"
    PAID = "paid"
    NO_ANSWER = "no_answer"
    REFUSED = "refused"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"


RESULT_LABELS: dict[Result, str] = {
    Result.PROMISED: N_("承诺还款"),
    Result.PAID: N_("已还款"),
    Result.NO_ANSWER: N_("无人接听"),
    Result.REFUSED: N_("拒绝还款"),
    Result.WRONG_NUMBER: N_("号码错误"),
    Result.OTHER: N_("其他"),
}


class RefusalReason(StrEnum):
    OUTSIDE_HOURS = "outside_hours"
    OVER_CAP = "over_cap"


REFUSAL_LABELS: dict[RefusalReason, str] = {
    RefusalReason.OUTSIDE_HOURS: N_("超出允许催收时段"),
    RefusalReason.OVER_CAP: N_("超出单笔每日次数上限"),
}


class NoticeKind(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"


NOTICE_LABELS: dict[NoticeKind, str] = {
    NoticeKind.REMINDER: N_("还款提醒"),
    NoticeKind.OVERDUE: N_("逾期通知"),
}
