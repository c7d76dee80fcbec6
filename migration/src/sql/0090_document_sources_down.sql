ALTER TABLE screenplay.code_documents
    DROP COLUMN chunking,
    DROP COLUMN source_encoding,
    DROP COLUMN source_format,
    DROP COLUMN section;
