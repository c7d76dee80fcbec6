DROP VIEW screenplay.vector_db_metrics;
CREATE VIEW screenplay.vector_db_metrics AS
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
               THEN 'migrate vectors to Milvus: ' || array_to_string(triggers.fired, '; ')
           WHEN cardinality(triggers.near) > 0
               THEN 'plan a Milvus migration: above 80% of the threshold for ' || array_to_string(triggers.near, ', ')
           ELSE 'pgvector is sufficient: no Milvus trigger reached'
       END AS recommendation
FROM docs, sizes, live, bench, triggers;
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
GRANT SELECT ON screenplay.vector_db_metrics TO screenplay_platform;

DROP FUNCTION screenplay.vector_outbox_status();
DROP FUNCTION screenplay.stop_vector_mirror();
DROP FUNCTION screenplay.start_vector_mirror();
DROP TRIGGER code_documents_vector_outbox_insert ON screenplay.code_documents;
DROP TRIGGER code_documents_vector_outbox_update ON screenplay.code_documents;
DROP TRIGGER code_documents_vector_outbox_delete ON screenplay.code_documents;
DROP FUNCTION screenplay.vector_outbox_enqueue();
DROP TABLE screenplay.vector_outbox;
DROP TABLE screenplay.vector_mirror;
