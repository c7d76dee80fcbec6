-- Reference documents with 1536-dim embeddings, and the retrievals that used them.

-- Text-search configuration for a document language (ISO 639-1 code, an
-- optional region suffix is ignored). Chinese, Japanese and Korean text is
-- handled by character n-grams (see cjk_ngrams) and gets 'simple' here.
CREATE FUNCTION screenplay.ts_config_for(language text) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (CASE lower(split_part(split_part(coalesce(language, ''), '-', 1), '_', 1))
        WHEN 'en' THEN 'pg_catalog.english'
        WHEN 'de' THEN 'pg_catalog.german'
        WHEN 'fr' THEN 'pg_catalog.french'
        WHEN 'es' THEN 'pg_catalog.spanish'
        WHEN 'it' THEN 'pg_catalog.italian'
        WHEN 'pt' THEN 'pg_catalog.portuguese'
        WHEN 'nl' THEN 'pg_catalog.dutch'
        WHEN 'ru' THEN 'pg_catalog.russian'
        WHEN 'sv' THEN 'pg_catalog.swedish'
        ELSE 'pg_catalog.simple'
    END)::regconfig
$$;

-- Character n-grams of the CJK runs of a text, space separated: every
-- character on its own and every pair of neighbours. PostgreSQL's parsers
-- cannot split Chinese into words; n-grams make it searchable with the same
-- tsvector machinery and do not depend on the database's locale (the default
-- parser treats non-ASCII characters as letters even under LC_CTYPE=C).
CREATE FUNCTION screenplay.cjk_ngrams(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(gram, ' ' ORDER BY run_no, pos, len), '')
    FROM (
        SELECT run_no, pos, len, substr(run, pos, len) AS gram
        FROM regexp_matches(coalesce(input, ''),
                            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', 'g')
             WITH ORDINALITY AS m(run_arr, run_no)
        CROSS JOIN LATERAL (SELECT m.run_arr[1] AS run) AS r
        CROSS JOIN LATERAL generate_series(1, char_length(r.run)) AS pos
        CROSS JOIN LATERAL (VALUES (1), (2)) AS l(len)
        WHERE pos + len - 1 <= char_length(r.run)
    ) AS grams
$$;

-- The text outside CJK runs, for the language's own configuration.
CREATE FUNCTION screenplay.strip_cjk(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT regexp_replace(coalesce(input, ''),
                          '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', ' ', 'g')
$$;

-- The searchable form of a document: words under the language's
-- configuration (stemmed for English) plus CJK n-grams; the title weighs more.
CREATE FUNCTION screenplay.document_search_vector(language text, title text, content text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT setweight(to_tsvector(screenplay.ts_config_for(language), screenplay.strip_cjk(title)), 'A')
        || setweight(to_tsvector('pg_catalog.simple'::regconfig, screenplay.cjk_ngrams(title)), 'A')
        || setweight(to_tsvector(screenplay.ts_config_for(language), screenplay.strip_cjk(content)), 'B')
        || setweight(to_tsvector('pg_catalog.simple'::regconfig, screenplay.cjk_ngrams(content)), 'B')
$$;

CREATE TABLE screenplay.code_documents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL,
    workspace_id     uuid NOT NULL,
    source_path      text NOT NULL,
    title            text NOT NULL,
    -- One chunk of the source document.
    content          text NOT NULL,
    -- SHA-256 (hex) of the chunk content: re-ingesting the same text is a no-op.
    content_hash     text NOT NULL,
    language         text NOT NULL DEFAULT 'en',
    chunk_index      integer NOT NULL DEFAULT 0,
    chunk_count      integer NOT NULL DEFAULT 1,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    embedding        vector(1536),
    embedding_model  text,
    token_count      integer NOT NULL DEFAULT 0,
    search_vector    tsvector GENERATED ALWAYS AS
                         (screenplay.document_search_vector(language, title, content)) STORED,
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT code_documents_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT code_documents_workspace_content_hash_key UNIQUE (workspace_id, content_hash),
    CONSTRAINT code_documents_content_check CHECK (length(content) > 0),
    CONSTRAINT code_documents_title_check CHECK (length(title) <= 500),
    CONSTRAINT code_documents_chunk_check CHECK (chunk_index >= 0 AND chunk_count > chunk_index),
    CONSTRAINT code_documents_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT code_documents_embedding_model_check
        CHECK ((embedding IS NULL) = (embedding_model IS NULL)),
    CONSTRAINT code_documents_workspace_fkey FOREIGN KEY (tenant_id, workspace_id)
        REFERENCES screenplay.workspaces (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT code_documents_created_by_fkey FOREIGN KEY (tenant_id, created_by)
        REFERENCES screenplay.users (tenant_id, id) ON DELETE SET NULL (created_by)
);
-- A 1536-dim vector is 6 KB: kept in the heap page instead of TOAST, exact
-- scans and COPY run several times faster (measured, see DESIGN).
ALTER TABLE screenplay.code_documents ALTER COLUMN embedding SET STORAGE PLAIN;
-- The planner sizes HNSW build workers by the heap alone, which is small.
ALTER TABLE screenplay.code_documents SET (parallel_workers = 2);

CREATE INDEX code_documents_embedding_hnsw_idx ON screenplay.code_documents
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX code_documents_search_vector_idx ON screenplay.code_documents USING gin (search_vector);
CREATE INDEX code_documents_content_trgm_idx ON screenplay.code_documents
    USING gin (content gin_trgm_ops);
CREATE INDEX code_documents_workspace_source_idx
    ON screenplay.code_documents (workspace_id, source_path, chunk_index);
CREATE INDEX code_documents_tenant_idx ON screenplay.code_documents (tenant_id);
CREATE INDEX code_documents_created_by_idx ON screenplay.code_documents (created_by);

CREATE TRIGGER code_documents_set_updated_at BEFORE UPDATE ON screenplay.code_documents
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();

CREATE TABLE screenplay.retrieved_documents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    session_id   uuid NOT NULL,
    step_id      uuid,
    -- Kept (as NULL) when the document is deleted later.
    document_id  uuid,
    query_text   text,
    method       text NOT NULL,
    score        double precision NOT NULL,
    rank         integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT retrieved_documents_method_check CHECK (method IN ('vector', 'keyword', 'hybrid')),
    CONSTRAINT retrieved_documents_rank_check CHECK (rank >= 1),
    CONSTRAINT retrieved_documents_session_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES screenplay.screenplay_sessions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT retrieved_documents_step_fkey FOREIGN KEY (session_id, step_id)
        REFERENCES screenplay.outline_steps (session_id, id) ON DELETE SET NULL (step_id),
    CONSTRAINT retrieved_documents_document_fkey FOREIGN KEY (tenant_id, document_id)
        REFERENCES screenplay.code_documents (tenant_id, id) ON DELETE SET NULL (document_id)
);
CREATE INDEX retrieved_documents_session_idx ON screenplay.retrieved_documents (session_id, created_at);
CREATE INDEX retrieved_documents_step_idx ON screenplay.retrieved_documents (step_id);
CREATE INDEX retrieved_documents_document_idx ON screenplay.retrieved_documents (document_id);
CREATE INDEX retrieved_documents_tenant_idx ON screenplay.retrieved_documents (tenant_id);
