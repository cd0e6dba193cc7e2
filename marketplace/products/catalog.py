"""Vocabulary of the catalogue: categories, employment types, labels."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "consumer": "消费贷",
    "business": "经营贷",
    "car": "车贷",
    "mortgage": "房抵贷",
    "credit_card": "信用卡",
}

EMPLOYMENT_TYPES: dict[str, str] = {
    "employee": "企业员工",
    "civil_servant": "公务员/事业单位",
    "business_owner": "企业主",
    "self_employed": "个体工商户",
    "freelancer": "自由职业",
}

PRODUCT_STATUSES: dict[str, str] = {
    "draft": "草稿",
    "pending_review": "待审核",
    "listed": "已上架",
    "paused": "已暂停",
    "delisted": "已下架",
    "rejected": "已驳回",
}

TERM_CHOICES = (1, 3, 6, 9, 12, 18, 24, 36, 48, 60, 120, 240, 360)
