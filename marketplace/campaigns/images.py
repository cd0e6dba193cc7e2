"""Banner images: JPEG, PNG or WebP by their first bytes, at most 1 MB, kept through
the storage interface (encrypted at rest)."""

from __future__ import annotations

from marketplace import storage
from marketplace.errors import DomainError
from marketplace.files import SIGNATURES, UploadedFile
from marketplace.i18n import _

MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def sniff_image(content: bytes) -> str | None:
    """The image type the content really is, whatever its name says, or None."""
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    media = next((m for magic, m, _ext in SIGNATURES if content.startswith(magic)), None)
    return media if media in IMAGE_TYPES else None


def checked_image(upload: UploadedFile | None, *, required: bool) -> tuple[bytes, str] | None:
    """The image's bytes and type, or None when none was chosen (and none is required).
    A DomainError on the `image` field when it is empty, too big or not an image."""
    if upload is None or (not upload.content and not upload.filename):
        if required:
            raise DomainError(_("请选择横幅图片（JPEG、PNG 或 WebP，不超过 1 MB）"), field="image")
        return None
    if not upload.content:
        raise DomainError(_("图片文件是空的，请重新选择"), field="image")
    if len(upload.content) > MAX_IMAGE_BYTES:
        raise DomainError(_("图片不能超过 1 MB，请压缩后重新选择"), field="image")
    media_type = sniff_image(upload.content)
    if media_type is None:
        raise DomainError(_("只接受 JPEG、PNG 或 WebP 图片，请重新选择"), field="image")
    return upload.content, media_type


async def store_image(content: bytes, media_type: str) -> str:
    key = storage.new_key("campaigns/banners")
    await storage.put(key, content, content_type=media_type)
    return key


async def read_image(key: str) -> bytes:
    return await storage.get(key)
