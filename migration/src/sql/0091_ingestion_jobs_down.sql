ALTER TABLE screenplay.code_documents ALTER COLUMN search_vector SET EXPRESSION AS (
    screenplay.document_search_vector(language, title, content)
);
ALTER TABLE screenplay.code_documents
    DROP CONSTRAINT code_documents_ingestion_job_fkey,
    DROP COLUMN ingestion_job_id,
    DROP COLUMN status_reason,
    DROP COLUMN status;
DROP TABLE screenplay.ingestion_jobs;
