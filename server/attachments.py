"""Files handed to a browser as downloads, never rendered inline: an uploaded file is
someone else's content, so it is an attachment with its checked type and `nosniff`."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

from litestar import Response


class DownloadableFile(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def content(self) -> bytes: ...


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback name and the real (UTF-8) name per RFC 6266."""
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    fallback = "document" + (f".{extension}" if extension.isalnum() and extension.isascii() else "")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment(file: DownloadableFile) -> Response:
    return Response(
        content=file.content,
        media_type=file.content_type,
        headers={
            "Content-Disposition": content_disposition(file.name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def download(content: bytes, media_type: str, filename: str) -> Response:
    """A file we generated (an export, a template) as a download; `filename` is ASCII."""
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
