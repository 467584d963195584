"""Vietnamese text: NFC and one tone-mark style (normalize), số hiệu and dates (docnumber), people's words ↔
the law's words (vocabulary), diacritics restored on unaccented questions (diacritics), what a question asks
for (question_kinds). The knowledge is data in rag/data/*.yaml."""
