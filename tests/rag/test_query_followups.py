"""Follow-up rewriting: a peer word swapped into the previous question, a leaning follow-up joined to it."""

from __future__ import annotations

from rag.query import swap_peer, understand
from rag.records import Turn


def test_vehicle_swap() -> None:
    history = [Turn("user", "Xe máy vượt đèn đỏ bị phạt bao nhiêu?"), Turn("assistant", "…")]
    assert understand("Còn ô tô thì sao?", history).standalone == "Ô tô vượt đèn đỏ bị phạt bao nhiêu?"
    assert understand("con xe dap thi sao", history).standalone.lower().startswith("xe đạp vượt đèn đỏ")


def test_no_peer_keeps_the_old_rewrite() -> None:
    assert swap_peer("Luật 36 có hiệu lực khi nào?", "ô tô") is None


def test_leaning_follow_up_carries_the_previous_question() -> None:
    prev = "Đi xe máy mà dùng tay cầm điện thoại thì bị phạt bao nhiêu?"
    info = understand("Thế có bị trừ điểm bằng lái không?", [Turn("user", prev)])
    assert prev in info.standalone and "trừ điểm" in info.standalone
    # A new, self-contained question is left alone.
    long_q = "Người lái xe ô tô phải mang theo những giấy tờ gì khi tham gia giao thông đường bộ?"
    assert understand(long_q, [Turn("user", prev)]).standalone == long_q
