"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a
31-character set, the last a check character over the first 17 (weights 3^i mod 31)."""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


def check_char(first_17: str) -> str:
    total = sum(
        CHARSET.index(char) * weight for char, weight in zip(first_17, WEIGHTS, strict=True)
    )
    return CHARSET[(31 - total % 31) % 31]


def normalise_credit_code(raw: str) -> str:
    return raw.strip().upper()


def is_valid_credit_code(code: str) -> bool:
    return (
        len(code) == LENGTH
        and all(char in CHARSET for char in code)
        and check_char(code[:17]) == code[17]
    )
