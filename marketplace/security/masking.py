"""Display masks for sensitive values, and :class:`Sensitive`, which only ever shows one.

Masks never reveal more than their fixed share of a value; input too short to mask safely
is masked completely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from marketplace.i18n import _

__all__ = [
    "Sensitive",
    "mask_address",
    "mask_all",
    "mask_author",
    "mask_bank_card",
    "mask_email",
    "mask_id_number",
    "mask_ip",
    "mask_mobile",
    "mask_name",
]


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_all(value: str) -> str:
    """A fixed-width mask that does not even reveal the length."""
    return "******"


def mask_id_number(value: str) -> str:
    """``110101199003071234`` → ``110***********1234`` (first 3, last 4)."""
    return _keep_ends(value.strip(), 3, 4)


def mask_mobile(value: str) -> str:
    """``13812345678`` → ``138****5678`` (first 3, last 4)."""
    return _keep_ends(value.strip(), 3, 4)


def mask_ip(value: str) -> str:
    """``123.45.67.89`` → ``123.45.*.*``; IPv6 keeps its first two groups; anything else
    is masked completely."""
    value = value.strip()
    parts = value.split(".")
    if len(parts) == 4 and all(part.isascii() and part.isdigit() for part in parts):
        return f"{parts[0]}.{parts[1]}.*.*"
    groups = value.split(":")
    if len(groups) > 2 and value.isascii():
        return f"{groups[0]}:{groups[1]}:*"
    return mask_all(value)


def mask_name(value: str) -> str:
    """``张三丰`` → ``张**`` (first character kept); a single character is fully masked."""
    return _keep_ends(value.strip(), 1, 0)


def mask_address(value: str) -> str:
    """``浙江省杭州市西湖区文三路 90 号 5 幢 301`` → ``浙江省杭州市****`` (the first 6
    characters, about the city; the street and door stay hidden, their length too)."""
    value = value.strip()
    if len(value) <= 6:
        return "*" * len(value)
    return value[:6] + "****"


def mask_bank_card(value: str) -> str:
    """``6222 0212 3456 7890 123`` → ``**** **** **** 0123``; the length is not revealed."""
    digits = "".join(value.split())
    if len(digits) < 8:
        return "*" * len(digits)
    return "**** **** **** " + digits[-4:]


def mask_email(value: str) -> str:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return mask_all(value)
    if len(local) == 1:
        return "*@" + domain
    return local[0] + "***@" + domain


def mask_author(name_masked: str, mobile_masked: str) -> str:
    """How a borrower signs a public rating, from the masks already stored: ``张**`` (the
    surname and a fixed two stars, so the length of the name is not told), else
    ``用户****5678`` (the last four of the masked mobile), else ``用户``."""
    name = name_masked.strip()
    if name and name[0] != "*":
        return name[0] + "**"
    tail = mobile_masked.strip()[-4:]
    if len(tail) == 4 and tail.isdigit():
        return _("用户****{tail}", tail=tail)
    return _("用户")


class Sensitive:
    """A sensitive string that renders masked in ``str``, ``repr``, f-strings and templates.

    The plaintext is available only through :meth:`reveal`, so an accidental
    ``log.info("%s", profile.id_number)`` or ``{{ profile.id_number }}`` shows the mask.
    Pickling is refused so the value cannot slip into a job payload.
    """

    __slots__ = ("_masked", "_value")
    _masked: str
    _value: str

    def __init__(self, value: str, mask: Callable[[str], str] = mask_all) -> None:
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_masked", mask(value))

    @classmethod
    def id_number(cls, value: str) -> Sensitive:
        return cls(value, mask_id_number)

    @classmethod
    def mobile(cls, value: str) -> Sensitive:
        return cls(value, mask_mobile)

    @classmethod
    def name(cls, value: str) -> Sensitive:
        return cls(value, mask_name)

    @classmethod
    def bank_card(cls, value: str) -> Sensitive:
        return cls(value, mask_bank_card)

    @classmethod
    def email(cls, value: str) -> Sensitive:
        return cls(value, mask_email)

    @property
    def masked(self) -> str:
        return self._masked

    def reveal(self) -> str:
        """The plaintext. Showing it to a person must be authorised and audited by the caller."""
        return self._value

    def __str__(self) -> str:
        return self._masked

    def __repr__(self) -> str:
        return self._masked

    def __format__(self, format_spec: str) -> str:
        return format(self._masked, format_spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sensitive):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Sensitive, self._value))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Sensitive is immutable")

    def __copy__(self) -> Sensitive:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Sensitive:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Sensitive values cannot be pickled; pass an id and reload instead")
