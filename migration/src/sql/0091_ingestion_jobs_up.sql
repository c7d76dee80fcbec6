-- Background indexing. `ingestDocuments` writes its chunks (status
-- PENDING, no vector yet) and one ingestion job in a short transaction and
-- returns; a worker in any server instance claims the job (FOR UPDATE SKIP
-- LOCKED and a lease, so several instances never embed the same chunks at
-- once and a dead instance's job is taken over when its lease ends), embeds
-- its chunks in batches outside any transaction, and marks them READY (or
-- FAILED, with the reason). Searches see READY chunks only: until then a
-- chunk has no vector and no search vector.

CREATE TABLE screenplay.ingestion_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL,
    workspace_id     uuid NOT NULL,
    status           text NOT NULL DEFAULT 'PENDING',
    embedding_model  text NOT NULL,
    total_chunks     integer NOT NULL DEFAULT 0,
    ready_chunks     integer NOT NULL DEFAULT 0,
    failed_chunks    integer NOT NULL DEFAULT 0,
    embedding_tokens bigint NOT NULL DEFAULT 0,
    -- Claims so far; the job fails once they reach the worker's limit.
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    claimed_by       text,
    lease_until      timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT ingestion_jobs_status_check CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED')),
    CONSTRAINT ingestion_jobs_counts_check
        CHECK (ready_chunks >= 0 AND failed_chunks >= 0 AND ready_chunks + failed_chunks <= total_chunks),
    CONSTRAINT ingestion_jobs_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT ingestion_jobs_workspace_fkey FOREIGN KEY (tenant_id, workspace_id)
        REFERENCES screenplay.workspaces (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE screenplay.ingestion_jobs IS
    'Background embedding of ingested chunks: claimed with FOR UPDATE SKIP LOCKED and a lease';
-- What a worker looks for: jobs not finished, by when they may run.
CREATE INDEX ingestion_jobs_open_idx ON screenplay.ingestion_jobs (next_attempt_at)
    WHERE status IN ('PENDING', 'RUNNING');
CREATE TRIGGER ingestion_jobs_set_updated_at BEFORE UPDATE ON screenplay.ingestion_jobs
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
CREATE INDEX ingestion_jobs_workspace_idx ON screenplay.ingestion_jobs (tenant_id, workspace_id, created_at DESC);

ALTER TABLE screenplay.ingestion_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screenplay.ingestion_jobs TO screenplay_app
    USING (tenant_id = (SELECT screenplay.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT screenplay.current_tenant_id()));
CREATE POLICY platform_access ON screenplay.ingestion_jobs TO screenplay_platform USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON screenplay.ingestion_jobs TO screenplay_app, screenplay_platform;

ALTER TABLE screenplay.code_documents
    ADD COLUMN status text NOT NULL DEFAULT 'READY',
    ADD COLUMN status_reason text,
    ADD COLUMN ingestion_job_id uuid,
    ADD CONSTRAINT code_documents_status_check CHECK (status IN ('PENDING', 'EMBEDDING', 'READY', 'FAILED')),
    ADD CONSTRAINT code_documents_ingestion_job_fkey FOREIGN KEY (tenant_id, ingestion_job_id)
        REFERENCES screenplay.ingestion_jobs (tenant_id, id) ON DELETE SET NULL (ingestion_job_id);
CREATE INDEX code_documents_ingestion_job_idx ON screenplay.code_documents (ingestion_job_id, status)
    WHERE ingestion_job_id IS NOT NULL;

-- Keyword search (the GIN index and every SQL function over it) sees READY
-- chunks only; vector search sees rows with a vector, which a chunk gets
-- when it becomes READY.
ALTER TABLE screenplay.code_documents ALTER COLUMN search_vector SET EXPRESSION AS (
    CASE WHEN status = 'READY' THEN screenplay.document_search_vector(language, title, content) END
);
