"""Demo documents library: the demo borrower keeps both sides of an ID card (small
generated PNGs) and an income certificate (a one-page PDF) in 我的资料, so 云帆's open
request for an income certificate shows “使用已保存的资料”. Stored through the library verb:
checked, encrypted through the storage interface, audited."""

from __future__ import annotations

import struct
import zlib

from marketplace.accounts.services import mobile_login_key
from marketplace.demo.decisions import _actor, _borrower_mobile
from marketplace.documents.services import upload_to_library
from marketplace.documents.tables import LibraryDocument
from marketplace.files import UploadedFile

# A one-page PDF with the words "Income certificate (demo)".
INCOME_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 120]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 54>>stream\nBT /F1 14 Tf 20 60 Td (Income certificate \\(demo\\)) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def card_png(rgb: tuple[int, int, int], width: int = 86, height: int = 54) -> bytes:
    """A plain card-shaped PNG of one colour (a stand-in for a photo of an ID card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


async def seed_documents() -> None:
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    if borrower is None or await LibraryDocument.exists().where(
        LibraryDocument.owner == borrower.user_id
    ):
        return
    for kind, name, content in (
        ("id_card_front", "身份证人像面.png", card_png((214, 228, 240))),
        ("id_card_back", "身份证国徽面.png", card_png((240, 226, 206))),
        ("income_proof", "收入证明.pdf", INCOME_PDF),
    ):
        await upload_to_library(borrower, kind, [UploadedFile(name, content)])
