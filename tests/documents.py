"""Test documents generated on the fly: a small synthetic dispatch as DOCX, PDF, HTML and text."""

from __future__ import annotations

import io
import os
from pathlib import Path

from evals.scans.render import ScanDocument

SYNTHETIC_LINES = [
    "UBND TỈNH THỬ NGHIỆM",
    "SỞ NỘI VỤ",
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập – Tự do – Hạnh phúc",
    "Số: 123/SNV-TCBC",
    "Thử Nghiệm, ngày 15 tháng 3 năm 2024",
    "V/v tăng cường kỷ luật, kỷ cương hành chính",
    "Kính gửi: Ủy ban nhân dân các huyện, thành phố.",
    "1. Các cơ quan, đơn vị nghiêm túc chấp hành giờ làm việc hành chính.",
    "2. Ủy ban nhân dân các huyện báo cáo kết quả thực hiện trước ngày 30/6/2024.",
    "Nơi nhận:",
    "- Như trên;",
    "- Lưu: VT.",
    "GIÁM ĐỐC",
    "Nguyễn Văn Ánh",
]
SYNTHETIC_TEXT = "\n".join(SYNTHETIC_LINES)
# Words with many diacritics that must survive extraction from every format.
DIACRITIC_PROBES = ["kỷ cương", "Ủy ban nhân dân", "Nguyễn Văn Ánh", "chấp hành giờ làm việc", "thực hiện"]


def make_docx(lines: list[str] = SYNTHETIC_LINES) -> bytes:
    import docx

    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _font_path() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")


def make_pdf(lines: list[str] = SYNTHETIC_LINES) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVu", _font_path()))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("DejaVu", 11)
    y = 800
    for line in lines:
        c.drawString(50, y, line)
        y -= 18
    c.save()
    return buf.getvalue()


def make_html(lines: list[str] = SYNTHETIC_LINES) -> bytes:
    body = "\n".join(f"<p>{line}</p>" for line in lines)
    return f"<!DOCTYPE html><html><head><title>x</title><style>p{{}}</style></head><body>{body}</body></html>".encode()


def write_all(folder: Path) -> dict[str, Path]:
    """Write the synthetic dispatch in every format plus broken files; returns name → path."""
    import unicodedata

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "docx": folder / "cong-van-docx.docx",
        "pdf": folder / "cong-van-pdf.pdf",
        "html": folder / "cong-van-html.html",
        "nfd": folder / "cong-van-nfd.txt",
        "corrupt": folder / "hong.pdf",
        "empty": folder / "rong.txt",
    }
    files["docx"].write_bytes(make_docx())
    files["pdf"].write_bytes(make_pdf())
    files["html"].write_bytes(make_html())
    files["nfd"].write_bytes(unicodedata.normalize("NFD", SYNTHETIC_TEXT).encode())
    files["corrupt"].write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage \x00\x01\x02 not a pdf")
    files["empty"].write_bytes(b"")
    return files


# A one-page dispatch in the official layout, rendered and scanned by evals/scans for the OCR tests.
SCANNED_DISPATCH = ScanDocument(
    header_left=("UBND TỈNH THỬ NGHIỆM", "SỞ NỘI VỤ"),
    header_right=("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"),
    number="Số: 123/SNV-TCBC", date="Hà Nội, ngày 15 tháng 3 năm 2024",
    subject_left=("V/v tăng cường kỷ luật, kỷ cương hành chính",),
    body=("Kính gửi: Ủy ban nhân dân các huyện, thành phố.",
          "1. Các cơ quan, đơn vị nghiêm túc chấp hành giờ làm việc hành chính.",
          "2. Ủy ban nhân dân các huyện báo cáo kết quả thực hiện trước ngày 30/6/2024."),
    cc=("Nơi nhận:", "- Như trên;", "- Lưu: VT."), signature=("GIÁM ĐỐC",), signer="Nguyễn Văn Ánh")
