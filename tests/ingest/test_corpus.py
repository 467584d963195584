from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.parse.document import parse_document
from rag.records import ParsedDocument, SourceDocument
from rag.text.docnumber import normalize_doc_number

ROOT = Path(__file__).resolve().parents[2]
DISPATCH = ROOT / "corpus" / "dispatch-STTTT-TTBCXB.md"
CATALOG = ROOT / "corpus" / "catalog.yaml"
LAWS = ROOT.parent / "shared" / "data" / "laws"


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """The loader's contract: a leading ---/--- YAML block, then the body."""
    assert raw.startswith("---\n")
    head, body = raw[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


@pytest.fixture(scope="module")
def front() -> dict[str, Any]:
    return split_front_matter(DISPATCH.read_text(encoding="utf-8"))[0]


@pytest.fixture(scope="module")
def dispatch() -> ParsedDocument:
    fm, body = split_front_matter(DISPATCH.read_text(encoding="utf-8"))
    strs = {k: v for k, v in fm.items() if isinstance(v, str)}
    return parse_document(SourceDocument(str(DISPATCH), "md", body, "0", strs), "dispatch")


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    return {d["id"]: d for d in data["documents"]}


SUBJECT = "thông tin, tuyên truyền về quyền con người và thông tin đối ngoại trên địa bàn tỉnh"


def test_front_matter(front: dict[str, Any]) -> None:
    assert front["title"] == "T" + SUBJECT[1:]
    assert front["doc_type"] == "công văn"
    assert front["number"] == "/STTTT-TTBCXB" and front["symbol"] == "STTTT-TTBCXB"
    assert front["issued_date"] == ""
    assert front["issuer"] == "Sở Thông tin và Truyền thông tỉnh Kon Tum"
    assert front["parent_issuer"] == "UBND tỉnh Kon Tum"
    assert front["place"] == "Kon Tum"
    assert front["subject"] == "V/v " + SUBJECT
    assert front["signer"] == "Mai Thoan"
    assert front["signer_title"] == "KT. Giám đốc – Phó Giám đốc"
    assert "blank in the original" in front["note"]


def test_parsed_meta_agrees_with_front_matter(dispatch: ParsedDocument, front: dict[str, Any]) -> None:
    m = dispatch.meta
    for key in ("title", "doc_type", "number", "issuer", "parent_issuer", "place", "subject", "signer"):
        assert getattr(m, key) == front[key]
    assert m.issued_date is None


def test_dispatch_body_is_clean_markdown() -> None:
    body = split_front_matter(DISPATCH.read_text(encoding="utf-8"))[1]
    assert "<sup>" not in body and "\n---\n" not in body
    assert body.count("[^1]") == 2 and body.count("[^2]") == 2  # marker + body each
    assert "## I. Tập trung vào các nội dung:" in body and "## II. Tổ chức thực hiện" in body


EXPECTED = {
    "luat-bao-hiem-xa-hoi-sua-doi": (None, "luật"),
    "luat-duong-bo": (None, "luật"),
    "luat-trat-tu-an-toan-giao-thong-duong-bo": (None, "luật"),
    "luat-luu-tru-sua-doi": (None, "luật"),
    "cong-van-08-cv-vptt": ("08/CV-VPTT", "công văn"),
    "van-ban-652-ttdn-nvdp": ("652/TTĐN-NVĐP", "công văn"),
    "thong-tu-03-2019-tt-btttt": ("03/2019/TT-BTTTT", "thông tư"),
    "du-thao-luat-phong-chong-mua-ban-nguoi-sua-doi": (None, "dự thảo luật"),
    "bao-cao-buon-nguoi-tip-hoa-ky": (None, "báo cáo (nước ngoài)"),
    "bao-cao-tu-do-ton-giao-hoa-ky": (None, "báo cáo (nước ngoài)"),
}


def test_catalog_entries(catalog: dict[str, Any]) -> None:
    for key, (number, kind) in EXPECTED.items():
        entry = catalog[key]
        assert entry["number"] == number and entry["type"] == kind
        assert {"id", "number", "title", "type", "issuer", "date", "cited_in", "note"} <= set(entry)
    assert catalog["cong-van-08-cv-vptt"]["date"] == "2024-07-30"
    assert catalog["van-ban-652-ttdn-nvdp"]["date"] == "2024-07-22"
    issuer = "Cục Thông tin đối ngoại, Bộ Thông tin và Truyền thông"
    assert catalog["van-ban-652-ttdn-nvdp"]["issuer"] == issuer
    assert catalog["thong-tu-03-2019-tt-btttt"]["date"] == "2024-05-06"
    assert "2019" in catalog["thong-tu-03-2019-tt-btttt"]["conflict"]
    assert catalog["bao-cao-buon-nguoi-tip-hoa-ky"]["date"] == "2024-06-24"
    assert "2023" in catalog["bao-cao-buon-nguoi-tip-hoa-ky"]["conflict"]
    assert catalog["bao-cao-tu-do-ton-giao-hoa-ky"]["date"] == "2024-06-26"


def test_catalog_numbers_are_canonical(catalog: dict[str, Any]) -> None:
    for entry in catalog.values():
        for key in ("number", "known_number"):
            if entry.get(key):
                assert normalize_doc_number(entry[key]) == entry[key]


def test_catalog_covers_every_cited_number(dispatch: ParsedDocument, catalog: dict[str, Any]) -> None:
    cited = {r.number for r in dispatch.references} - {dispatch.meta.number}
    assert cited == {e["number"] for e in catalog.values() if e["number"]}


def test_cited_in_points_at_real_units(dispatch: ParsedDocument, catalog: dict[str, Any]) -> None:
    paths = {" › ".join(u.path) for u in dispatch.units}
    for entry in catalog.values():
        for where in entry["cited_in"] + entry.get("cited_from", []):
            assert where in paths, (entry["id"], where)


def test_known_numbers_match_the_law_files(catalog: dict[str, Any]) -> None:
    for key, name in (("luat-duong-bo", "luat-35-2024-QH15.txt"),
                      ("luat-trat-tu-an-toan-giao-thong-duong-bo", "luat-36-2024-QH15.txt")):
        law = parse_document(SourceDocument(name, "txt", (LAWS / name).read_text(encoding="utf-8"), "0"), key)
        assert law.meta.number == catalog[key]["known_number"]
        assert law.meta.issued_date == catalog[key]["known_date"]
        assert law.meta.title == catalog[key]["title"]


def test_provenance_lists_every_corpus_file_with_its_checksum() -> None:
    import hashlib

    entries = yaml.safe_load((ROOT / "corpus" / "provenance.yaml").read_text(encoding="utf-8"))
    listed = {e["file"] for e in entries}
    present = {p.name for p in (ROOT / "corpus").iterdir() if p.suffix in (".md", ".txt")}
    assert listed == present
    for e in entries:
        if "sha256" in e:
            assert hashlib.sha256((ROOT / "corpus" / e["file"]).read_bytes()).hexdigest() == e["sha256"], e["file"]
            # The copy is the shared text itself (read in place by nothing else: the corpus ships it).
            shared = ROOT.parent / e["from"]
            if shared.exists():
                assert shared.read_bytes() == (ROOT / "corpus" / e["file"]).read_bytes()


def test_catalog_laws_resolve_to_stored_documents(catalog: dict[str, Any]) -> None:
    for key in ("luat-duong-bo", "luat-trat-tu-an-toan-giao-thong-duong-bo"):
        stored = ROOT / "corpus" / catalog[key]["stored"]
        law = parse_document(SourceDocument(stored.name, "txt", stored.read_text(encoding="utf-8"), "0"), key)
        assert law.meta.number == catalog[key]["known_number"]
