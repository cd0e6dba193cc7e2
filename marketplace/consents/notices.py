"""The versioned consent notice (PIPL art. 23/29). The text a borrower saw is rebuilt
from the version and its inputs, and its SHA-256 is stored with the consent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from marketplace.i18n import N_, _

NOTICE_VERSION = "2026-12-v2"
RETENTION = N_("自提交之日起2年，或至您撤回同意")
PURPOSE = N_("用于评估您的借款申请、与您联系办理及履行借款合同")

DATA_ITEMS: dict[str, str] = {
    "real_name": N_("姓名"),
    "id_number": N_("身份证号码"),
    "mobile": N_("手机号码"),
    "city": N_("所在城市"),
    "employment_type": N_("职业类型"),
    "monthly_income": N_("月收入"),
    "loan_request": N_("借款金额与期限"),
    "loan_purpose": N_("借款用途"),
    "address": N_("联系地址"),
    "emergency_contact": N_("紧急联系人的姓名、关系和手机号码"),
}
# The items each version of the notice lists: an earlier notice is rebuilt as it was shown.
VERSION_ITEMS: dict[str, tuple[str, ...]] = {
    "2026-11-v1": (
        "real_name",
        "id_number",
        "mobile",
        "city",
        "employment_type",
        "monthly_income",
        "loan_request",
    ),
    # The saved profile's contact fields and the loan's purpose (P5).
    NOTICE_VERSION: tuple(DATA_ITEMS),
}
SHARED_ITEMS: tuple[str, ...] = VERSION_ITEMS[NOTICE_VERSION]


@dataclass(frozen=True)
class Notice:
    version: str
    institution_name: str
    institution_contact: str
    purpose: str
    items: tuple[str, ...]
    retention: str
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def build_notice(
    institution_name: str, service_phone: str, product_name: str, version: str = NOTICE_VERSION
) -> Notice:
    """The notice of `version` (the current one unless rebuilding what a borrower saw);
    `product_name`: every product the consent covers, as one list."""
    # The stored digest covers the text exactly as shown: the zh-CN source below must stay
    # byte-identical for this version, and a translated notice hashes differently.
    purpose = _(PURPOSE)
    retention = _(RETENTION)
    # Translators: separator between the items of a list.
    shared_items = VERSION_ITEMS.get(version, SHARED_ITEMS)
    items = _("、").join(_(DATA_ITEMS[item]) for item in shared_items)
    text = _(
        "个人信息单独同意书（版本 {version}）\n"
        "您正在申请“{institution}”的“{product}”。为办理该申请，LoanMart 将把以下"
        "个人信息提供给{institution}（联系电话 {phone}）：{items}。\n"
        "处理目的：{purpose}。\n"
        "保存期限：{retention}。\n"
        "LoanMart 不会向该机构提供平台信用评分或审批概率等其他信息。您可以在“个人中心—我的授权”"
        "中随时撤回本同意；撤回后平台将停止向该机构提供您的信息，但不影响撤回前已进行的处理。"
        "您也可以依法向该机构查阅、复制、更正或删除其持有的您的个人信息。",
        version=version,
        institution=institution_name,
        product=product_name,
        phone=service_phone,
        items=items,
        purpose=purpose,
        retention=retention,
    )
    return Notice(
        version=version,
        institution_name=institution_name,
        institution_contact=service_phone,
        purpose=purpose,
        items=shared_items,
        retention=retention,
        text=text,
    )
