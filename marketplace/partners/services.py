"""Verbs of partner onboarding (I1, A4): apply, follow and answer through the status link,
operator review, admission, and the first admin's one-time password link.

Links carry random tokens kept only as SHA-256 hashes. Every e-mail about an application
carries a fresh status link (the token is rotated), since the old one cannot be rebuilt
from its hash; earlier links then stop working.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from marketplace import storage
from marketplace.accounts import management
from marketplace.accounts.limits import Limit, reserve
from marketplace.accounts.management import (
    PASSWORD_LINK_HOURS,
    new_password_link,
    password_set_by_link,
)
from marketplace.accounts.roles import has_permission
from marketplace.accounts.staff import create_institution_admin
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from marketplace.files import UploadedFile, safe_name, sniff
from marketplace.i18n import N_, _
from marketplace.inbox.services import notify_users
from marketplace.institutions.services import NewInstitution, admit_institution, expiry_date
from marketplace.institutions.tables import Institution
from marketplace.notifications.services import send_email
from marketplace.parameters.services import get_parameters
from marketplace.parsing import FormReader, column_length, parse_choice, parse_text
from marketplace.partners.credit_code import is_valid_credit_code, normalise_credit_code
from marketplace.partners.statuses import (
    NOTE_REQUIRED,
    OPEN_STATUSES,
    PARTNER_MACHINE,
    REPLY,
    REVIEW,
    PartnerStatus,
)
from marketplace.partners.tables import (
    PartnerApplication,
    PartnerDocument,
    PartnerMessage,
)
from marketplace.security import (
    decrypt_field,
    encrypt_field,
    mask_email,
    mask_mobile,
    normalise_mobile,
    validate_mobile,
)
from marketplace.settings import settings

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_OTHER_FILES = 5
NOTE_MAX_LENGTH = 1000
TOKEN_MAX_LENGTH = 64
HOUR = 3600

INSTITUTION_KINDS: dict[str, str] = {
    "bank": N_("银行"),
    "consumer_finance": N_("消费金融公司"),
    "microloan": N_("小额贷款公司"),
    "auto_finance": N_("汽车金融公司"),
    "trust": N_("信托公司"),
}
# The documents an application carries: the two licences are required, others optional.
DOCUMENT_KINDS: dict[str, str] = {
    "business_licence": N_("营业执照"),
    "financial_licence": N_("金融许可证"),
    "other": N_("其他材料"),
}
REQUIRED_DOCUMENTS = ("business_licence", "financial_licence")

MOBILE_CONTEXT = "partner.contact_mobile"
EMAIL_CONTEXT = "partner.contact_email"


@dataclass(frozen=True)
class PartnerInput:
    company_name: str
    short_name: str
    credit_code: str
    kind: str
    city: str
    business_licence_no: str
    business_licence_expires_on: date | None
    licence_type: str
    licence_no: str
    licence_issuer: str
    licence_expires_on: date
    contact_name: str
    contact_mobile: str
    contact_email: str


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    content: bytes


def applicant(origin: Actor) -> Actor:
    """Whoever holds an application's status link: may answer a request for more."""
    return Actor(
        user_id=None,
        kind="visitor",
        label="applicant",
        ip=origin.ip,
        request_id=origin.request_id,
        permissions=frozenset({REPLY}),
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


def _text(form: FormReader, key: str, column, label: str, *, required: bool = True) -> str:
    return form.field(
        key,
        parse_text,
        "",
        label=label,
        max_length=column_length(column),
        min_length=1 if required else 0,
    )


def _email_error(address: str) -> str | None:
    local, _at, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address) or not address.isascii():
        return _("请填写正确的电子邮箱")
    return None


def parse_partner_form(data: Mapping) -> PartnerInput:
    """Every field checked at once; ValidationFailed names each wrong one."""
    P = PartnerApplication
    form = FormReader(data)
    company_name = _text(form, "company_name", P.company_name, _("机构全称"))
    short_name = _text(form, "short_name", P.short_name, _("机构简称"))
    credit_code = normalise_credit_code(
        _text(form, "credit_code", P.credit_code, _("统一社会信用代码"))
    )
    if credit_code and not is_valid_credit_code(credit_code):
        form.fail("credit_code", _("统一社会信用代码不正确，请核对18位代码"))
    kind = form.field("kind", parse_choice, "", choices=INSTITUTION_KINDS, label=_("机构类型"))
    city = _text(form, "city", P.city, _("注册城市"))
    business_licence_no = _text(form, "business_licence_no", P.business_licence_no, _("营业执照号"))
    business_expires = expiry_date(
        form, "business_licence_expires_on", _("营业执照有效期"), required=False
    )
    licence_type = _text(form, "licence_type", P.licence_type, _("金融许可证类型"))
    licence_no = _text(form, "licence_no", P.licence_no, _("金融许可证编号"))
    licence_issuer = _text(form, "licence_issuer", P.licence_issuer, _("发证机关"))
    licence_expires = expiry_date(form, "licence_expires_on", _("许可证有效期至"), required=True)
    contact_name = _text(form, "contact_name", P.contact_name, _("联系人姓名"))
    mobile = _text(form, "contact_mobile", P.contact_mobile_masked, _("联系人手机号"))
    if mobile and (error := validate_mobile(mobile)):
        form.fail("contact_mobile", error)
    email = _text(form, "contact_email", Institution.contact_email, _("联系邮箱")).lower()
    if email and (error := _email_error(email)):
        form.fail("contact_email", error)
    form.raise_errors()
    assert licence_expires is not None  # required: raise_errors stopped otherwise
    return PartnerInput(
        company_name=company_name,
        short_name=short_name,
        credit_code=credit_code,
        kind=kind,
        city=city,
        business_licence_no=business_licence_no,
        business_licence_expires_on=business_expires,
        licence_type=licence_type,
        licence_no=licence_no,
        licence_issuer=licence_issuer,
        licence_expires_on=licence_expires,
        contact_name=contact_name,
        contact_mobile=normalise_mobile(mobile),
        contact_email=email,
    )


@dataclass(frozen=True)
class _Checked:
    kind: str
    name: str
    media_type: str
    content: bytes


def _check_files(
    files: Mapping[str, Sequence[UploadedFile]], *, required: Sequence[str]
) -> list[_Checked]:
    """Each file's real type (PDF/JPEG/PNG by content) and size; every problem at once."""
    errors: dict[str, str] = {}
    checked: list[_Checked] = []
    for kind in required:
        if not [f for f in files.get(kind, ()) if f.content or f.filename]:
            errors[kind] = _("请上传{kind}", kind=_(DOCUMENT_KINDS[kind]))
    for kind, uploads in files.items():
        # One scan per licence, a few others: bounds the storage one form can fill.
        limit = MAX_OTHER_FILES if kind == "other" else 1
        if len([f for f in uploads if f.content or f.filename]) > limit:
            errors[kind] = _("{kind}最多{n}个文件", kind=_(DOCUMENT_KINDS[kind]), n=limit)
    for kind, uploads in files.items():
        for upload in uploads:
            if not upload.content and not upload.filename:
                continue  # an empty file input
            media_type = sniff(upload.filename, upload.content)
            if len(upload.content) > MAX_FILE_BYTES:
                errors.setdefault(kind, _("每个文件不超过{mb}MB", mb=MAX_FILE_BYTES // 2**20))
            elif media_type is None:
                errors.setdefault(kind, _("仅支持PDF、JPG、PNG文件（按文件内容识别）"))
            else:
                name = safe_name(
                    upload.filename,
                    media_type,
                    max_length=column_length(PartnerDocument.original_name),
                    fallback=_(DOCUMENT_KINDS[kind]),
                )
                checked.append(_Checked(kind, name, media_type, upload.content))
    if errors:
        raise ValidationFailed(errors)
    return checked


async def _store(application_id: int, files: list[_Checked]) -> list[str]:
    keys = []
    for file in files:
        key = storage.new_key(f"partners/{application_id}")
        await storage.put(key, file.content, content_type=file.media_type)
        keys.append(key)
    return keys


async def _attach(application_id: int, files: list[_Checked]) -> None:
    """Store the files and record them, inside the caller's transaction; a rollback
    deletes the stored files again (storage.put)."""
    keys = await _store(application_id, files)
    await PartnerDocument.insert(
        *(
            PartnerDocument(
                application=application_id,
                kind=file.kind,
                original_name=file.name,
                media_type=file.media_type,
                size_bytes=len(file.content),
                storage_key=key,
            )
            for file, key in zip(files, keys, strict=True)
        )
    )


async def _tell_reviewers(application_id: int, title: str) -> None:
    """In-site notice to every active operator who reviews partner applications."""
    rows = await User.select(User.id, User.role).where(
        (User.kind == "operator") & (User.status == "active")
    )
    reviewers = [r["id"] for r in rows if has_permission("operator", r["role"], REVIEW)]
    await notify_users(
        reviewers, "partner.review", title, f"/admin/institutions/applications/{application_id}"
    )


def status_url(token: str) -> str:
    return f"{settings.base_url}/partners/status/{token}"


async def _email_applicant(row: Mapping, template: str, body: str) -> None:
    """A fresh status link in every e-mail (see the module docstring)."""
    token, token_hash = _new_token()
    await PartnerApplication.update({PartnerApplication.status_token_hash: token_hash}).where(
        PartnerApplication.id == row["id"]
    )
    address = decrypt_field(row["contact_email_encrypted"], context=EMAIL_CONTEXT)
    await send_email(address, template, f"{body}\n{_('查看进度')}：{status_url(token)}")


async def submit_partner_application(
    origin: Actor, data: PartnerInput, files: Mapping[str, Sequence[UploadedFile]]
) -> str:
    """A new application from the public form; returns its reference. The contact gets
    an e-mail with the status link."""
    params = await get_parameters("partner_applications_per_hour")
    if wait := await reserve(
        Limit(f"partners:apply:{origin.ip}", int(params["partner_applications_per_hour"]), HOUR)
    ):
        raise Throttled(
            _("提交过于频繁，请{minutes}分钟后再试", minutes=max(1, wait // 60)), retry_after=wait
        )
    checked = _check_files(files, required=REQUIRED_DOCUMENTS)
    async with transaction():
        # One open application per credit code, even under parallel submissions.
        await PartnerApplication.raw(
            "SELECT pg_advisory_xact_lock(hashtext({}))", f"partner:{data.credit_code}"
        )
        if await Institution.exists().where(Institution.credit_code == data.credit_code):
            raise DomainError(_("该机构已入驻平台，如需帮助请联系平台客服"), field="credit_code")
        if await PartnerApplication.exists().where(
            (PartnerApplication.credit_code == data.credit_code)
            & PartnerApplication.status.is_in(list(OPEN_STATUSES))
        ):
            raise DomainError(
                _("该统一社会信用代码已有审核中的申请，请通过邮件中的链接查看进度"),
                field="credit_code",
            )
        reference = "JR" + datetime.now(UTC).strftime("%y%m%d") + secrets.token_hex(3).upper()
        rows = await PartnerApplication.insert(
            PartnerApplication(
                reference=reference,
                company_name=data.company_name,
                short_name=data.short_name,
                credit_code=data.credit_code,
                kind=data.kind,
                city=data.city,
                business_licence_no=data.business_licence_no,
                business_licence_expires_on=data.business_licence_expires_on,
                licence_type=data.licence_type,
                licence_no=data.licence_no,
                licence_issuer=data.licence_issuer,
                licence_expires_on=data.licence_expires_on,
                contact_name=data.contact_name,
                contact_mobile_encrypted=encrypt_field(data.contact_mobile, context=MOBILE_CONTEXT),
                contact_mobile_masked=mask_mobile(data.contact_mobile),
                contact_email_encrypted=encrypt_field(data.contact_email, context=EMAIL_CONTEXT),
                contact_email_masked=mask_email(data.contact_email),
                status=PartnerStatus.SUBMITTED,
                status_token_hash=_new_token()[1],
            )
        ).returning(*PartnerApplication.all_columns())
        row = rows[0]
        await _attach(row["id"], checked)
        await audit(origin, "partner_application.submit", "partner_application", row["id"])
        await _tell_reviewers(
            row["id"],
            _("新的机构入驻申请：{company}（编号 {ref}）", company=data.short_name, ref=reference),
        )
        await _email_applicant(
            row,
            "partner.submitted",
            _(
                "【LoanMart】已收到{company}的入驻申请（编号 {ref}），平台将尽快审核。",
                company=data.short_name,
                ref=reference,
            ),
        )
    return reference


async def application_id_for_token(token: str) -> int:
    """The application a status link opens; an unknown or malformed token is NotFound."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise NotFound(_("链接无效，请使用最新一封邮件中的链接"))
    row = (
        await PartnerApplication.select(PartnerApplication.id)
        .where(PartnerApplication.status_token_hash == _hash(token))
        .first()
    )
    if row is None:
        raise NotFound(_("链接无效，请使用最新一封邮件中的链接"))
    return int(row["id"])


async def reply_to_request(
    origin: Actor, token: str, message: str, files: Mapping[str, Sequence[UploadedFile]]
) -> None:
    """The applicant answers a request for more: a note and/or files; back to review."""
    actor = applicant(origin)
    message = message.strip()
    if len(message) > NOTE_MAX_LENGTH:
        raise ValidationFailed({"message": _("说明最多{n}个字", n=NOTE_MAX_LENGTH)})
    checked = _check_files(files, required=())
    if not message and not checked:
        raise ValidationFailed({"message": _("请填写说明或上传文件")})
    application_id = await application_id_for_token(token)
    async with transaction():
        row = await _locked(application_id)
        target = PARTNER_MACHINE.target(row["status"], "reply", actor)
        if checked:
            await _attach(application_id, checked)
        await PartnerMessage.insert(
            PartnerMessage(
                application=application_id, author_kind="applicant", status=target, body=message
            )
        )
        await _set_status(application_id, target)
        await audit(
            actor,
            "partner_application.reply",
            "partner_application",
            application_id,
            files=len(checked),
        )
        await _tell_reviewers(
            application_id,
            _("入驻申请已补充材料（编号 {ref}），请继续审核", ref=row["reference"]),
        )


async def _locked(application_id: int) -> dict:
    row = (
        await PartnerApplication.select()
        .where(PartnerApplication.id == application_id)
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该入驻申请"))
    return row


async def _set_status(application_id: int, status: PartnerStatus, more: dict | None = None) -> None:
    await PartnerApplication.update(
        {
            PartnerApplication.status: status,
            PartnerApplication.updated_at: datetime.now(UTC),
            **(more or {}),
        }
    ).where(PartnerApplication.id == application_id)


async def decide(actor: Actor, application_id: int, action: str, note: str) -> None:
    """An operator reviews, asks for more, rejects or approves (admitting the
    institution and its first admin in the same transaction)."""
    if not actor.can("institution.review"):
        raise PermissionDenied()
    if action not in PARTNER_MACHINE.table[PartnerStatus.SUBMITTED]:
        raise NotFound()
    note = note.strip()
    if action in NOTE_REQUIRED and not note:
        raise ValidationFailed({"note": _("请填写说明，申请人将看到该内容")})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed({"note": _("说明最多{n}个字", n=NOTE_MAX_LENGTH)})
    async with transaction():
        row = await _locked(application_id)
        target = PARTNER_MACHINE.target(row["status"], action, actor)
        more: dict = {}
        if action == "approve":
            more[PartnerApplication.institution] = await _admit(actor, row)
        await _set_status(application_id, target, more)
        if note:
            await PartnerMessage.insert(
                PartnerMessage(
                    application=application_id, author_kind="operator", status=target, body=note
                )
            )
        await audit(
            actor, f"partner_application.{action}", "partner_application", application_id, note=note
        )
        if action != "review":
            await _email_applicant(
                row,
                f"partner.{action}",
                _(
                    "【LoanMart】您的入驻申请（编号 {ref}）状态更新：{status}。{note}",
                    ref=row["reference"],
                    status=PARTNER_MACHINE.label(target),
                    note=note,
                ),
            )


async def _admit(actor: Actor, row: Mapping) -> int:
    """The institution (approved, awaiting agreement), its first admin and the one-time
    link that admin sets a password with."""
    email = decrypt_field(row["contact_email_encrypted"], context=EMAIL_CONTEXT)
    institution_id = await admit_institution(
        actor,
        NewInstitution(
            name=row["company_name"],
            short_name=row["short_name"],
            credit_code=row["credit_code"],
            kind=row["kind"],
            licence_no=row["licence_no"],
            licence_issuer=row["licence_issuer"],
            licence_expires_on=row["licence_expires_on"],
            business_licence_no=row["business_licence_no"],
            business_licence_expires_on=row["business_licence_expires_on"],
            city=row["city"],
            contact_name=row["contact_name"],
            contact_email=email,
        ),
    )
    user_id = await create_institution_admin(
        actor,
        institution_id,
        name=row["contact_name"],
        email=email,
        mobile=decrypt_field(row["contact_mobile_encrypted"], context=MOBILE_CONTEXT),
    )
    await _send_password_link(user_id, email, row["short_name"])
    return institution_id


async def _send_password_link(user_id: int, email: str, company: str) -> None:
    """The accounts' one-time link, sent with the partner's wording and page."""
    token = await new_password_link(user_id)
    await send_email(
        email,
        "partner.set_password",
        _(
            "【LoanMart】{company}已准入平台。请在{hours}小时内设置机构管理员密码（登录账号为本邮箱）：{url}",
            company=company,
            hours=PASSWORD_LINK_HOURS,
            url=f"{settings.base_url}/partners/set-password/{token}",
        ),
    )


async def resend_password_link(actor: Actor, application_id: int) -> None:
    """For an approved application whose admin has not set a password yet (the link
    expired or was lost): a fresh link to the same address."""
    if not actor.can(REVIEW):
        raise PermissionDenied()
    async with transaction():
        row = await _locked(application_id)
        if row["status"] != PartnerStatus.APPROVED:
            raise InvalidTransition(_("只有已通过的申请可以重发设置密码链接"))
        email = decrypt_field(row["contact_email_encrypted"], context=EMAIL_CONTEXT)
        admin = (
            await User.select(User.id)
            .where(
                (User.kind == "staff")
                & (User.login_key == email)
                & (User.institution == row["institution"])
            )
            .first()
        )
        if admin is None:
            raise NotFound(_("找不到该机构的管理员账号"))
        if await password_set_by_link(admin["id"]):
            raise InvalidTransition(_("该机构管理员已设置过密码，无需重发"))
        await _send_password_link(admin["id"], email, row["short_name"])
        await audit(actor, "partner_application.resend_link", "partner_application", application_id)


async def check_password_link(token: str) -> None:
    await management.check_password_link(token, "staff")


async def set_password_with_link(origin: Actor, token: str, password: str, confirm: str) -> None:
    """Single use, as every account's link (accounts.management)."""
    await management.set_password_with_link(origin, "staff", token, password, confirm)


async def open_document(actor: Actor, application_id: int, document_id: int) -> StoredFile:
    """A document shown to a reviewer; each view is audited."""
    if not actor.can("institution.review"):
        raise PermissionDenied()
    row = (
        await PartnerDocument.select()
        .where(
            (PartnerDocument.id == document_id) & (PartnerDocument.application == application_id)
        )
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该材料"))
    content = await storage.get(row["storage_key"])
    async with transaction():
        await audit(
            actor,
            "partner_document.view",
            "partner_document",
            document_id,
            application_id=application_id,
        )
    return StoredFile(row["original_name"], row["media_type"], content)
