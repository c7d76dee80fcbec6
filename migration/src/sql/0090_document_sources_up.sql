-- Where each chunk came from and how it was cut: the heading path it sits
-- under, the file format and text encoding it was extracted from, and the
-- chunking rules (`v2 tokens cl100k_base 512/64`). Re-ingesting a source
-- under other rules replaces its chunks instead of adding a second set.
-- NULL on rows ingested before these were recorded.
ALTER TABLE screenplay.code_documents
    ADD COLUMN section         text,
    ADD COLUMN source_format   text,
    ADD COLUMN source_encoding text,
    ADD COLUMN chunking        text,
    ADD CONSTRAINT code_documents_section_check CHECK (length(section) <= 2000),
    ADD CONSTRAINT code_documents_source_format_check
        CHECK (source_format IN ('text', 'markdown', 'html', 'pdf', 'docx')),
    ADD CONSTRAINT code_documents_chunking_check CHECK (length(chunking) <= 200);

COMMENT ON COLUMN screenplay.code_documents.section IS 'Heading path of the chunk (Act One > Scene 2), if any';
COMMENT ON COLUMN screenplay.code_documents.source_format IS 'text, markdown, html, pdf or docx';
COMMENT ON COLUMN screenplay.code_documents.source_encoding IS 'Detected encoding of a text file (UTF-8, GB18030, Big5, UTF-16LE…)';
COMMENT ON COLUMN screenplay.code_documents.chunking IS 'Chunking rules and version, e.g. v2 tokens cl100k_base 512/64';
