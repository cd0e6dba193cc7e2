"""Signing a text with an SMS code, the one mechanism for the borrower's loan contract
(offers) and the institution's cooperation agreement (agreements).

The signer reads the rendered text; the form sends back its SHA-256 (so a text changed
meanwhile is not signed unseen) and the six-digit code texted to the signer's mobile. The
caller stores the evidence: the text (encrypted), its digest, time, address and browser.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from marketplace.accounts.codes import consume_code, issue_code, start_cooldown
from marketplace.accounts.limits import Limit, reserve
from marketplace.accounts.tables import User
from marketplace.errors import DomainError, Throttled, ValidationFailed
from marketplace.i18n import _
from marketplace.notifications.services import send_sms
from marketplace.parsing import first
from marketplace.security import decrypt_field

USER_AGENT_MAX = 400
CLIENT_ADDRESS_MAX = 64
# The hidden field of every signing form: the digest of the text the signer read.
SHOWN_DIGEST_FIELD = "contract_sha256"
_CODE = re.compile(r"[0-9]{6}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SigningRequest:
    code: str
    shown_sha256: str  # the digest of the text the signer read (hidden field)
    client_address: str
    user_agent: str


def parse_signing(data: Mapping, client_address: str, user_agent: str) -> SigningRequest:
    code = first(data.get("code")).strip()
    if not _CODE.fullmatch(code):
        raise ValidationFailed({"code": _("请输入短信中的6位数字验证码")})
    return SigningRequest(
        code=code,
        shown_sha256=first(data.get(SHOWN_DIGEST_FIELD)).strip()[:64],
        client_address=client_address[:CLIENT_ADDRESS_MAX],
        user_agent=user_agent.replace("\x00", "")[:USER_AGENT_MAX],
    )


async def _mobile_of(user_id: int) -> str:
    row = await User.select(User.mobile_encrypted).where(User.id == user_id).first()
    if not row or not row["mobile_encrypted"]:
        raise DomainError(_("账号未绑定手机号，无法发送验证码，请先绑定手机号"), field="code")
    return decrypt_field(row["mobile_encrypted"], context="user.mobile")


async def send_signing_code(
    purpose: str,
    subject: str,
    user_id: int,
    hourly: Limit,
    sms_template: str,
    sms_text: Callable[[str], str],
) -> None:
    """Text `user_id` a fresh code for `purpose`/`subject` (an id, never personal data):
    at most one a minute per subject and `hourly` per signer; `sms_text(code)` is the SMS."""
    mobile = await _mobile_of(user_id)  # refused before spending a try of the limits
    if wait := await reserve(hourly):
        raise Throttled(_("获取验证码过于频繁，请稍后再试"), field="code", retry_after=wait)
    await start_cooldown(purpose, subject, field="code")
    code = await issue_code(purpose, subject)
    await send_sms(mobile, sms_template, sms_text(code))


async def confirm_signature(
    purpose: str, subject: str, text: str, request: SigningRequest, *, changed_message: str
) -> str:
    """The SHA-256 of `text` once the signer has shown they read this very text and typed
    the right code. Call it last, after the row locks: of two tries with the right code,
    one signs."""
    sha256 = digest(text)
    if request.shown_sha256 != sha256:
        raise ValidationFailed({"code": changed_message})
    if not await consume_code(purpose, subject, request.code):
        raise ValidationFailed({"code": _("验证码不正确或已过期，请重新获取")})
    return sha256
