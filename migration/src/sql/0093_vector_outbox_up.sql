-- Vectors mirrored to Milvus. PostgreSQL stays the source of truth: every
-- vector lives in code_documents.embedding whichever store searches. Once
-- `screenplay vectors migrate --to milvus` starts the mirror, a statement
-- trigger writes one outbox row per changed document in the writing
-- transaction, and one worker at a time (advisory lock) brings Milvus to
-- each document's current state (upsert when it is READY with a vector,
-- delete otherwise), then deletes the outbox rows it did. Replaying a row
-- is harmless (upserts by primary key), so a crash mid-drain loses nothing.

-- One row while the mirror is on (its trigger enabled in the same
-- transaction); none when vectors live in pgvector only.
CREATE TABLE screenplay.vector_mirror (
    store       text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    -- When the first full copy reached Milvus (`vectors migrate` finished).
    copied_at   timestamptz,
    CONSTRAINT vector_mirror_store_check CHECK (store = 'milvus')
);
COMMENT ON TABLE screenplay.vector_mirror IS
    'The vector mirror (Milvus) when on: code_documents changes are written to vector_outbox';

CREATE TABLE screenplay.vector_outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  uuid NOT NULL,
    tenant_id    uuid NOT NULL,
    enqueued_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE screenplay.vector_outbox IS
    'Documents whose vector Milvus has not caught up with yet, oldest first';

ALTER TABLE screenplay.vector_mirror ENABLE ROW LEVEL SECURITY;
ALTER TABLE screenplay.vector_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_access ON screenplay.vector_mirror TO screenplay_platform USING (true) WITH CHECK (true);
CREATE POLICY platform_access ON screenplay.vector_outbox TO screenplay_platform USING (true) WITH CHECK (true);
GRANT SELECT ON screenplay.vector_mirror TO screenplay_platform;
GRANT SELECT, DELETE ON screenplay.vector_outbox TO screenplay_platform;

-- Transition tables: one INSERT per statement, however many rows it wrote.
-- SECURITY DEFINER: tenants' transactions may not touch the outbox.
CREATE FUNCTION screenplay.vector_outbox_enqueue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO screenplay.vector_outbox (document_id, tenant_id)
        SELECT n.id, n.tenant_id FROM new_rows AS n WHERE n.embedding IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO screenplay.vector_outbox (document_id, tenant_id)
        SELECT o.id, o.tenant_id FROM old_rows AS o WHERE o.embedding IS NOT NULL;
    ELSE
        -- What Milvus holds or filters on: the vector, whether it is
        -- searchable, and the fields a search filter reads.
        INSERT INTO screenplay.vector_outbox (document_id, tenant_id)
        SELECT n.id, n.tenant_id
        FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
        WHERE (n.embedding IS NOT NULL OR o.embedding IS NOT NULL)
          AND ((n.embedding IS NULL) <> (o.embedding IS NULL)
               OR n.embedding OPERATOR(public.<>) o.embedding
               OR n.embedding_model IS DISTINCT FROM o.embedding_model
               OR n.status IS DISTINCT FROM o.status
               OR n.workspace_id IS DISTINCT FROM o.workspace_id
               OR n.language IS DISTINCT FROM o.language
               OR n.source_path IS DISTINCT FROM o.source_path
               OR n.metadata IS DISTINCT FROM o.metadata);
    END IF;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION screenplay.vector_outbox_enqueue() FROM PUBLIC;

-- Created disabled: a database without the mirror pays nothing per write.
CREATE TRIGGER code_documents_vector_outbox_insert AFTER INSERT ON screenplay.code_documents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.vector_outbox_enqueue();
CREATE TRIGGER code_documents_vector_outbox_update AFTER UPDATE ON screenplay.code_documents
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.vector_outbox_enqueue();
CREATE TRIGGER code_documents_vector_outbox_delete AFTER DELETE ON screenplay.code_documents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.vector_outbox_enqueue();
ALTER TABLE screenplay.code_documents DISABLE TRIGGER code_documents_vector_outbox_insert;
ALTER TABLE screenplay.code_documents DISABLE TRIGGER code_documents_vector_outbox_update;
ALTER TABLE screenplay.code_documents DISABLE TRIGGER code_documents_vector_outbox_delete;

-- Starts the mirror: the triggers on, and every vector already stored
-- queued, atomically. The SHARE lock waits for writers in flight and holds
-- new ones until commit, so no write falls between the copy and the
-- triggers. Idempotent: a second call (a resumed migration) queues nothing.
CREATE FUNCTION screenplay.start_vector_mirror() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    queued bigint := 0;
BEGIN
    LOCK TABLE screenplay.code_documents IN SHARE MODE;
    IF EXISTS (SELECT 1 FROM screenplay.vector_mirror) THEN
        RETURN 0;
    END IF;
    INSERT INTO screenplay.vector_mirror (store) VALUES ('milvus');
    ALTER TABLE screenplay.code_documents ENABLE TRIGGER code_documents_vector_outbox_insert;
    ALTER TABLE screenplay.code_documents ENABLE TRIGGER code_documents_vector_outbox_update;
    ALTER TABLE screenplay.code_documents ENABLE TRIGGER code_documents_vector_outbox_delete;
    INSERT INTO screenplay.vector_outbox (document_id, tenant_id)
    SELECT id, tenant_id FROM screenplay.code_documents
    WHERE embedding IS NOT NULL AND status = 'READY'
    ORDER BY tenant_id, workspace_id, id;
    GET DIAGNOSTICS queued = ROW_COUNT;
    RETURN queued;
END;
$$;
REVOKE ALL ON FUNCTION screenplay.start_vector_mirror() FROM PUBLIC;

-- Stops the mirror (vectors back in pgvector only): triggers off, queue
-- emptied. PostgreSQL already holds every vector.
CREATE FUNCTION screenplay.stop_vector_mirror() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOCK TABLE screenplay.code_documents IN SHARE MODE;
    ALTER TABLE screenplay.code_documents DISABLE TRIGGER code_documents_vector_outbox_insert;
    ALTER TABLE screenplay.code_documents DISABLE TRIGGER code_documents_vector_outbox_update;
    ALTER TABLE screenplay.code_documents DISABLE TRIGGER code_documents_vector_outbox_delete;
    DELETE FROM screenplay.vector_outbox;
    DELETE FROM screenplay.vector_mirror;
END;
$$;
REVOKE ALL ON FUNCTION screenplay.stop_vector_mirror() FROM PUBLIC;

-- The mirror's state for metrics and readiness: on or off, rows waiting
-- and the age of the oldest (the lag a search on Milvus may have).
CREATE FUNCTION screenplay.vector_outbox_status()
    RETURNS TABLE (mirror text, copied boolean, pending bigint, lag_seconds double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (SELECT m.store FROM screenplay.vector_mirror AS m),
           coalesce((SELECT m.copied_at IS NOT NULL FROM screenplay.vector_mirror AS m), false),
           (SELECT count(*) FROM screenplay.vector_outbox),
           coalesce((SELECT extract(epoch FROM clock_timestamp() - min(o.enqueued_at))::double precision
                     FROM screenplay.vector_outbox AS o), 0);
$$;
GRANT EXECUTE ON FUNCTION screenplay.vector_outbox_status() TO screenplay_app, screenplay_platform;

-- vector_db_metrics: the mirror's lag, and the command to run when a trigger fires.
CREATE OR REPLACE VIEW screenplay.vector_db_metrics AS
WITH docs AS (
    SELECT count(*) AS total_documents,
           count(d.embedding) AS total_vectors,
           count(DISTINCT d.workspace_id) FILTER (WHERE d.embedding IS NOT NULL) AS workspaces,
           count(DISTINCT d.tenant_id) FILTER (WHERE d.embedding IS NOT NULL) AS tenants
    FROM screenplay.code_documents AS d
), per_workspace AS (
    SELECT d.tenant_id, d.workspace_id, count(*) AS vectors
    FROM screenplay.code_documents AS d
    WHERE d.embedding IS NOT NULL
    GROUP BY d.tenant_id, d.workspace_id
), per_tenant AS (
    SELECT w.tenant_id, sum(w.vectors)::bigint AS vectors, count(*) AS workspaces
    FROM per_workspace AS w
    GROUP BY w.tenant_id
), sizes AS (
    SELECT pg_total_relation_size('screenplay.code_documents'::regclass) AS total_bytes,
           pg_table_size('screenplay.code_documents'::regclass) AS table_bytes,
           coalesce((SELECT sum(pg_relation_size(i.indexrelid))
                     FROM pg_catalog.pg_index AS i
                     JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
                     JOIN pg_catalog.pg_am AS am ON am.oid = ic.relam
                     WHERE i.indrelid = 'screenplay.code_documents'::regclass
                       AND am.amname IN ('hnsw', 'ivfflat')), 0)::bigint AS vector_index_bytes,
           (SELECT a.atttypmod FROM pg_catalog.pg_attribute AS a
            WHERE a.attrelid = 'screenplay.code_documents'::regclass AND a.attname = 'embedding') AS dimensions
), live AS (
    SELECT * FROM screenplay.search_latency_summary(interval '1 hour', ARRAY['vector', 'hybrid'], 'server')
), bench AS (
    SELECT * FROM screenplay.search_latency_summary(interval '7 days', ARRAY['vector'], 'benchmark')
), triggers AS (
    SELECT array_remove(ARRAY[
        CASE WHEN docs.total_vectors > 1000000
             THEN format('total_vectors %s > 1,000,000', docs.total_vectors) END,
        CASE WHEN sizes.total_bytes > 100 * 1024::bigint ^ 3
             THEN format('total_size %s > 100 GB', pg_size_pretty(sizes.total_bytes)) END,
        CASE WHEN live.qps_peak > 100
             THEN format('vector search QPS %s > 100', round(live.qps_peak::numeric, 1)) END,
        CASE WHEN live.p99_ms > 500
             THEN format('vector search p99 %s ms > 500 ms', round(live.p99_ms::numeric)) END
    ], NULL) AS fired,
    array_remove(ARRAY[
        CASE WHEN docs.total_vectors > 800000 THEN 'total_vectors' END,
        CASE WHEN sizes.total_bytes > 80 * 1024::bigint ^ 3 THEN 'total_size' END,
        CASE WHEN live.qps_peak > 80 THEN 'search QPS' END,
        CASE WHEN live.p99_ms > 400 THEN 'search p99' END
    ], NULL) AS near
    FROM docs, sizes, live
)
SELECT docs.total_documents,
       docs.total_vectors,
       sizes.dimensions,
       docs.workspaces,
       docs.tenants,
       (SELECT max(w.vectors) FROM per_workspace AS w) AS max_vectors_per_workspace,
       coalesce((SELECT jsonb_agg(jsonb_build_object('tenant_id', w.tenant_id, 'workspace_id', w.workspace_id,
                                                     'vectors', w.vectors)
                                  ORDER BY w.vectors DESC, w.workspace_id)
                 FROM per_workspace AS w), '[]'::jsonb) AS vectors_per_workspace,
       coalesce((SELECT jsonb_agg(jsonb_build_object('tenant_id', t.tenant_id, 'vectors', t.vectors,
                                                     'workspaces', t.workspaces)
                                  ORDER BY t.vectors DESC, t.tenant_id)
                 FROM per_tenant AS t), '[]'::jsonb) AS vectors_per_tenant,
       pg_size_pretty(sizes.table_bytes) AS table_size,
       pg_size_pretty(sizes.vector_index_bytes) AS index_size,
       pg_size_pretty(sizes.total_bytes) AS total_size,
       sizes.table_bytes,
       sizes.vector_index_bytes AS index_bytes,
       sizes.total_bytes,
       live.calls AS search_calls_last_hour,
       live.qps_avg AS search_qps_avg,
       live.qps_peak AS search_qps_peak,
       live.p99_ms AS search_p99_ms,
       bench.p99_ms AS benchmark_p99_ms,
       triggers.fired AS milvus_triggers,
       CASE
           WHEN cardinality(triggers.fired) > 0
               THEN 'migrate vectors to Milvus (screenplay vectors migrate --to milvus): '
                    || array_to_string(triggers.fired, '; ')
           WHEN cardinality(triggers.near) > 0
               THEN 'plan a Milvus migration: above 80% of the threshold for ' || array_to_string(triggers.near, ', ')
           ELSE 'pgvector is sufficient: no Milvus trigger reached'
       END AS recommendation,
       outbox.mirror AS vector_mirror,
       outbox.pending AS outbox_pending,
       outbox.lag_seconds AS outbox_lag_seconds
FROM docs, sizes, live, bench, triggers, screenplay.vector_outbox_status() AS outbox;
COMMENT ON VIEW screenplay.vector_db_metrics IS
    'Vector store size and the Milvus migration triggers: total_vectors > 1,000,000, total_size > 100 GB, '
    'vector search QPS > 100, p99 > 500 ms';
COMMENT ON COLUMN screenplay.vector_db_metrics.index_size IS 'Size of the vector (HNSW / IVFFlat) indexes';
COMMENT ON COLUMN screenplay.vector_db_metrics.total_size IS 'code_documents with TOAST and every index';
COMMENT ON COLUMN screenplay.vector_db_metrics.search_qps_avg IS
    'Vector and hybrid searches per second over the last hour, as recorded by the API servers; NULL when none was recorded';
COMMENT ON COLUMN screenplay.vector_db_metrics.search_qps_peak IS
    'Busiest minute of the last hour, in vector and hybrid searches per second; NULL when none was recorded';
COMMENT ON COLUMN screenplay.vector_db_metrics.search_p99_ms IS
    'p99 latency (ms) of vector and hybrid searches over the last hour, measured by the API servers; NULL when none was recorded';
COMMENT ON COLUMN screenplay.vector_db_metrics.benchmark_p99_ms IS
    'p99 (ms) of benchmark_vector_search() runs of the last 7 days; NULL when none ran';
COMMENT ON COLUMN screenplay.vector_db_metrics.vector_mirror IS
    'milvus while vectors are mirrored to Milvus (screenplay vectors migrate --to milvus), else NULL';
COMMENT ON COLUMN screenplay.vector_db_metrics.outbox_pending IS
    'Document changes Milvus has not received yet';
COMMENT ON COLUMN screenplay.vector_db_metrics.outbox_lag_seconds IS
    'Age of the oldest change Milvus has not received (0 when none): how stale a search on Milvus may be';

