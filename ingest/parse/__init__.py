"""SourceDocument → ParsedDocument: the text and footnotes (document), the administrative header and closing
(header), Phần/Chương/Mục/Điều/Khoản/Điểm or dispatch sections (structure), effect and relations (validity)."""
