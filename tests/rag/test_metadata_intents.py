"""Questions about the document itself (its header and closing block): every field asked is recognised, so a
question asking for two gets both."""

from __future__ import annotations

import pytest

from rag.answer.extractive import metadata_intent, metadata_intents


@pytest.mark.parametrize(("question", "intents"), [
    ("Công văn có số hiệu và ngày ban hành là gì?", ["date", "number"]),
    ("cong van do ai ky?", ["signer"]),
    ("Who signed the dispatch and who is it addressed to?", ["signer", "recipients"]),
    ("Công văn kính gửi những ai, ai ký?", ["signer", "recipients"]),
    ("Người lái xe có nghĩa vụ gì?", []),
    ("Nghị định 168/2024/NĐ-CP do ai ký?", []),  # another document named: not this one's header
    # the number and date of a text it cites (a footnote), not its own header's
    ("Công văn căn cứ vào văn bản số mấy của Ban Chỉ đạo về Nhân quyền, ban hành ngày nào?", []),
])
def test_every_asked_field_is_recognised(question: str, intents: list[str]) -> None:
    assert metadata_intents(question) == intents
    assert metadata_intent(question) == (intents[0] if intents else None)
