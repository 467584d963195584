"""Interface texts: Vietnamese first, English as a toggle. One flat key space for both languages."""

from __future__ import annotations

from typing import Literal

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
LANG_CHOICES = [("Tiếng Việt", "vi"), ("English", "en")]

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "app_title": "Hỏi đáp văn bản chỉ đạo, điều hành",
        "app_subtitle": "Câu trả lời chỉ lấy từ các văn bản đã lưu; mỗi ý có số [n] dẫn tới "
                        "đoạn văn bản gốc.",
        "tab_chat": "Hỏi đáp",
        "tab_docs": "Văn bản",
        "chatbot": "Cuộc trò chuyện",
        "chat_placeholder": "Đặt câu hỏi về các văn bản đã lưu, ví dụ: "
                            "*UBND các huyện, thành phố phải làm gì?*",
        "question": "Câu hỏi",
        "question_placeholder": "Nhập câu hỏi…",
        "send": "Gửi",
        "new_chat": "Cuộc trò chuyện mới",
        "examples": "Câu hỏi mẫu",
        "filters": "Giới hạn phạm vi tìm kiếm",
        "filter_type": "Loại văn bản",
        "filter_doc": "Chỉ trong văn bản",
        "all": "Tất cả",
        "sources": "Nguồn trích dẫn",
        "sources_empty": "Các nguồn trích dẫn của câu trả lời sẽ hiện ở đây. Bấm vào số [n] trong "
                         "câu trả lời để xem đoạn văn bản gốc.",
        "sources_waiting": "Đang tìm trong các văn bản…",
        "sources_for": "Câu hỏi",
        "related": "Các đoạn gần nhất (để tham khảo, không phải câu trả lời)",
        "no_related": "Không có đoạn văn bản nào đủ gần với câu hỏi.",
        "open_doc": "Mở toàn văn",
        "number": "Số hiệu",
        "date": "Ngày ban hành",
        "status_ended": "Hết hiệu lực từ {date}",
        "replaced_by": " · thay bằng {number}",
        "status_not_yet": "Chưa có hiệu lực",
        "issuer": "Cơ quan ban hành",
        "type": "Loại",
        "chunks": "Số đoạn",
        "title": "Tên văn bản",
        "no_number": "(chưa ghi số)",
        "no_date": "(chưa ghi ngày)",
        "abstain_title": "Chưa tìm thấy câu trả lời trong văn bản",
        "error_title": "Không trả lời được",
        "error_unavailable": "Hệ thống đang khởi động hoặc tạm thời không truy cập được kho văn bản. "
                             "Vui lòng thử lại sau ít phút.",
        "answering": "Đang soạn câu trả lời…",
        "feedback_title": "Góp ý cho câu trả lời",
        "feedback_hint": "Cảm ơn bạn đã đánh giá. Có thể ghi thêm góp ý (không bắt buộc):",
        "feedback_comment": "Góp ý",
        "feedback_comment_placeholder": "Ví dụ: thiếu ý, trích sai văn bản…",
        "feedback_send": "Gửi góp ý",
        "feedback_saved": "Đã lưu đánh giá. Cảm ơn bạn!",
        "feedback_comment_saved": "Đã lưu góp ý. Cảm ơn bạn!",
        "docs_heading": "Các văn bản đã lưu",
        "docs_empty": "Chưa có văn bản nào trong kho.",
        "docs_count": "{docs} văn bản, {chunks} đoạn",
        "refresh": "Làm mới",
        "upload_heading": "Tải văn bản lên (dành cho quản trị viên)",
        "upload_files": "Tệp văn bản (.md, .txt, .docx, .pdf, .html)",
        "admin_key": "Khóa quản trị",
        "admin_key_placeholder": "Nhập khóa quản trị được cấp",
        "upload_button": "Tải lên và lập chỉ mục",
        "upload_none": "Chưa chọn tệp nào.",
        "upload_denied": "Khóa quản trị không đúng hoặc không có quyền tải văn bản lên.",
        "upload_too_many": "Chỉ được tải tối đa {n} tệp mỗi lần.",
        "upload_rejected": "Máy chủ từ chối các tệp tải lên:",
        "report_heading": "Kết quả lập chỉ mục",
        "report_line": "Kho hiện có **{documents}** văn bản, **{chunks}** đoạn. Lần này: thêm {added} đoạn, "
                       "cập nhật {updated} văn bản, xóa {removed} đoạn, {unchanged} văn bản không đổi.",
        "report_failed": "Tệp không xử lý được",
        "report_ok": "Tất cả các tệp đã được xử lý.",
        "report_warnings": "Lưu ý khi phân tích",
        "language": "Ngôn ngữ",
        "doc_not_found": "Không tìm thấy văn bản.",
        "doc_back": "Quay lại hỏi đáp",
        "doc_passage": "Đoạn được trích dẫn",
    },
    "en": {
        "app_title": "Questions on policy documents",
        "app_subtitle": "Answers come only from the stored documents; every point carries a number [n] "
                        "that leads to the original passage.",
        "tab_chat": "Ask",
        "tab_docs": "Documents",
        "chatbot": "Conversation",
        "chat_placeholder": "Ask about the stored documents, e.g. *UBND các huyện, thành phố phải làm gì?*",
        "question": "Question",
        "question_placeholder": "Type a question…",
        "send": "Send",
        "new_chat": "New conversation",
        "examples": "Example questions",
        "filters": "Limit the search",
        "filter_type": "Document type",
        "filter_doc": "Only in document",
        "all": "All",
        "sources": "Cited sources",
        "sources_empty": "The sources of an answer appear here. Click a number [n] in the answer to see the "
                         "original passage.",
        "sources_waiting": "Searching the documents…",
        "sources_for": "Question",
        "related": "Closest passages (for reference, not an answer)",
        "no_related": "No passage is close enough to the question.",
        "open_doc": "Open full document",
        "number": "Number",
        "date": "Issued",
        "status_ended": "No longer in force since {date}",
        "replaced_by": " · replaced by {number}",
        "status_not_yet": "Not yet in force",
        "issuer": "Issuer",
        "type": "Type",
        "chunks": "Passages",
        "title": "Title",
        "no_number": "(no number)",
        "no_date": "(no date)",
        "abstain_title": "The documents do not answer this",
        "error_title": "Could not answer",
        "error_unavailable": "The system is starting or cannot reach the document store. "
                             "Please try again in a few minutes.",
        "answering": "Writing the answer…",
        "feedback_title": "Feedback on the answer",
        "feedback_hint": "Thank you for rating. You may add a comment (optional):",
        "feedback_comment": "Comment",
        "feedback_comment_placeholder": "E.g. a point is missing, wrong document cited…",
        "feedback_send": "Send comment",
        "feedback_saved": "Rating saved. Thank you!",
        "feedback_comment_saved": "Comment saved. Thank you!",
        "docs_heading": "Stored documents",
        "docs_empty": "No documents are stored yet.",
        "docs_count": "{docs} documents, {chunks} passages",
        "refresh": "Refresh",
        "upload_heading": "Upload documents (administrators)",
        "upload_files": "Files (.md, .txt, .docx, .pdf, .html)",
        "admin_key": "Admin key",
        "admin_key_placeholder": "Enter the admin key you were given",
        "upload_button": "Upload and index",
        "upload_none": "No file selected.",
        "upload_denied": "The admin key is wrong or may not upload documents.",
        "upload_too_many": "At most {n} files per upload.",
        "upload_rejected": "The server refused the upload:",
        "report_heading": "Indexing report",
        "report_line": "The store now holds **{documents}** documents, **{chunks}** passages. This run: "
                       "{added} passages added, {updated} documents updated, {removed} passages removed, "
                       "{unchanged} documents unchanged.",
        "report_failed": "Files that could not be processed",
        "report_ok": "All files were processed.",
        "report_warnings": "Parsing notes",
        "language": "Language",
        "doc_not_found": "Document not found.",
        "doc_back": "Back to questions",
        "doc_passage": "Cited passage",
    },
}

EXAMPLES: dict[str, list[str]] = {
    "vi": [
        "UBND các huyện, thành phố phải làm gì?",
        "Công văn đề nghị tuyên truyền những nội dung nào?",
        "Luật Bảo hiểm xã hội sửa đổi có điểm gì mới?",
        "Các cơ quan báo chí có nhiệm vụ gì?",
    ],
    "en": [
        "What must the district people's committees do?",
        "What is new in the amended Social Insurance Law?",
        "UBND các huyện, thành phố phải làm gì?",
        "Các cơ quan báo chí có nhiệm vụ gì?",
    ],
}


def t(key: str, lang: str = "vi") -> str:
    """The label `key` in `lang` (Vietnamese when the language is unknown)."""
    table = LABELS.get(lang, LABELS["vi"])
    return table.get(key) or LABELS["vi"][key]
