"""The anti-fraud rules (A8): their names, what they look at, and which system parameters
set their limits, windows and scores. Pure: the evaluation lives in services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from marketplace.i18n import N_


class Stage(StrEnum):
    REGISTRATION = "registration"
    APPLICATION = "application"


class KeyKind(StrEnum):
    PHONE = "phone"
    ID_NUMBER = "id_number"
    DEVICE = "device"
    ADDRESS = "address"


KEY_LABELS: dict[KeyKind, str] = {
    KeyKind.PHONE: N_("手机号"),
    KeyKind.ID_NUMBER: N_("身份证号"),
    KeyKind.DEVICE: N_("设备"),
    KeyKind.ADDRESS: N_("IP 地址"),
}

# The blind-index purpose of each key: phone and ID number share the accounts' and
# profiles' purposes, so a blacklisted number matches the index those contexts keep.
KEY_PURPOSES: dict[KeyKind, str] = {
    KeyKind.PHONE: "mobile",
    KeyKind.ID_NUMBER: "id_number",
    KeyKind.DEVICE: "device",
    KeyKind.ADDRESS: "ip",
}

# What may be blacklisted (devices come and go with a cookie: not worth barring).
BLACKLIST_KINDS = (KeyKind.PHONE, KeyKind.ID_NUMBER, KeyKind.ADDRESS)

BLACKLIST_SCORE = "risk_blacklist_score"
INVALID_ID_SCORE = "risk_invalid_id_score"
AGE_SCORE = "risk_age_score"
AGE_MIN = "risk_age_min"
AGE_MAX = "risk_age_max"
HOLD_SCORE = "risk_hold_score"
REGISTRATION_BLOCK_SCORE = "risk_registration_block_score"


@dataclass(frozen=True)
class VelocityRule:
    stage: Stage
    key: KeyKind
    label: str

    @property
    def code(self) -> str:
        return f"velocity.{self.stage}.{self.key}"

    @property
    def limit_parameter(self) -> str:
        return f"risk_{self.stage}_{self.key}_limit"

    @property
    def window_parameter(self) -> str:
        return f"risk_{self.stage}_{self.key}_window_hours"

    @property
    def score_parameter(self) -> str:
        return f"risk_{self.stage}_{self.key}_score"


VELOCITY_RULES: tuple[VelocityRule, ...] = (
    VelocityRule(Stage.REGISTRATION, KeyKind.DEVICE, N_("同一设备短时间内多次注册")),
    VelocityRule(Stage.REGISTRATION, KeyKind.ADDRESS, N_("同一 IP 地址短时间内多次注册")),
    VelocityRule(Stage.APPLICATION, KeyKind.PHONE, N_("同一手机号短时间内多次申请")),
    VelocityRule(Stage.APPLICATION, KeyKind.ID_NUMBER, N_("同一身份证号短时间内多次申请")),
    VelocityRule(Stage.APPLICATION, KeyKind.DEVICE, N_("同一设备短时间内多次申请")),
    VelocityRule(Stage.APPLICATION, KeyKind.ADDRESS, N_("同一 IP 地址短时间内多次申请")),
)

BLACKLIST_RULES: dict[KeyKind, str] = {
    KeyKind.PHONE: "blacklist.phone",
    KeyKind.ID_NUMBER: "blacklist.id_number",
    KeyKind.ADDRESS: "blacklist.address",
}
INVALID_ID_RULE = "identity.id_checksum"
AGE_RULE = "identity.age"

RULE_LABELS: dict[str, str] = {
    **{rule.code: rule.label for rule in VELOCITY_RULES},
    "blacklist.phone": N_("手机号在黑名单中"),
    "blacklist.id_number": N_("身份证号在黑名单中"),
    "blacklist.address": N_("IP 地址在黑名单中"),
    INVALID_ID_RULE: N_("身份证号校验位或出生日期无效"),
    AGE_RULE: N_("年龄超出允许范围"),
}


def parameter_keys() -> tuple[str, ...]:
    """Every parameter the rules read (one query loads them all)."""
    return (
        *(
            parameter
            for rule in VELOCITY_RULES
            for parameter in (rule.limit_parameter, rule.window_parameter, rule.score_parameter)
        ),
        BLACKLIST_SCORE,
        INVALID_ID_SCORE,
        AGE_SCORE,
        AGE_MIN,
        AGE_MAX,
        HOLD_SCORE,
        REGISTRATION_BLOCK_SCORE,
    )


class HoldStatus(StrEnum):
    HELD = "held"
    RELEASED = "released"
    REJECTED = "rejected"


HOLD_LABELS: dict[HoldStatus, str] = {
    HoldStatus.HELD: N_("待审核"),
    HoldStatus.RELEASED: N_("已放行"),
    HoldStatus.REJECTED: N_("已拒绝"),
}

# Why an operator rejected a held application: kept in the hold and the audit log, never
# told to the borrower (who is told neutrally), so the answer teaches a fraudster nothing.
REJECTION_REASONS: dict[str, str] = {
    "identity_doubt": N_("身份存疑"),
    "stolen_identity": N_("疑似冒用他人身份"),
    "fraud_ring": N_("疑似团伙欺诈"),
    "blacklisted": N_("命中黑名单"),
    "other": N_("其他"),
}

# Shown to the borrower on a rejected (never delivered) application: the same words
# whatever the reason.
NEUTRAL_REFUSAL = N_("经平台综合评估，暂时无法为您提交该申请")
