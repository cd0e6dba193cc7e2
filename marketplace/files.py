"""What an uploaded file really is, and a name fit to show for it.

The one content check for every upload (borrowers' documents, partner applications):
the type is read from the first bytes, never from the name or the browser's claim.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# What a file is, by its first bytes: the only types accepted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
EXTENSIONS = {media_type: extension for _magic, media_type, extension in SIGNATURES}
# A name claiming one accepted type over content of another is refused, not renamed:
# a "合同.pdf" that is really an image was not what the sender meant to send.
CLAIMED_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}


def sniff(filename: str, content: bytes) -> str | None:
    """The media type the content really is (JPEG, PNG or PDF), or None when it is none
    of them or the name claims another of them."""
    media_type = next(
        (media for magic, media, _ext in SIGNATURES if content.startswith(magic)), None
    )
    claimed = CLAIMED_TYPES.get(filename.rsplit(".", 1)[-1].lower() if "." in filename else "")
    return None if claimed and claimed != media_type else media_type


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content: bytes  # read to one byte past the size limit: enough to know it is too big


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|;]+')


def clean_name(name: str) -> str:
    """The last path part of a name, without control or separator characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    return _UNSAFE_NAME.sub("_", base).strip(" .")


def safe_name(name: str, media_type: str, *, max_length: int, fallback: str) -> str:
    """A name fit to show and to offer as a download: the last path part, no control or
    separator characters, at most `max_length`, ending in the type's extension."""
    base = clean_name(name)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    extension = EXTENSIONS[media_type]
    stem = stem[: max_length - len(extension) - 1] or fallback
    return f"{stem}.{extension}"


# Pictures shown in pages (article images): the type by the first bytes, as for uploads.
IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff_image(content: bytes) -> str | None:
    """JPEG, PNG or WebP (a RIFF container of type WEBP), or None for anything else."""
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return next((media for magic, media in IMAGE_SIGNATURES if content.startswith(magic)), None)
