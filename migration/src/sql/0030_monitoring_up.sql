-- Monitoring views with the seed design's names (README_DATABASE.md,
-- "监控和诊断"): table_sizes, vector_db_metrics, slow_queries, index_usage,
-- cache_hit_ratio, connection_stats; and search_latency, where servers
-- record how long searches take (vector_db_metrics reads its p99 and QPS).
--
-- The views expose database-wide figures (and vector counts of every tenant),
-- so they are granted to screenplay_platform (platform admins) and the owner,
-- never to screenplay_app.

-- Search latency per minute, mode, source and server instance, as a
-- histogram: `counts[i]` calls took at most `le_ms[i]` milliseconds (and more
-- than `le_ms[i-1]`); the last element counts the slower ones. Holds no
-- tenant data. Written by the servers (source 'server', see
-- metrics::observe_search) and by benchmark_vector_search() (source 'benchmark').
CREATE TABLE screenplay.search_latency (
    bucket_start  timestamptz NOT NULL,
    mode          text NOT NULL,
    source        text NOT NULL,
    instance      text NOT NULL,
    calls         bigint NOT NULL,
    total_ms      double precision NOT NULL DEFAULT 0,
    max_ms        double precision NOT NULL DEFAULT 0,
    le_ms         double precision[] NOT NULL,
    counts        bigint[] NOT NULL,
    PRIMARY KEY (bucket_start, mode, source, instance),
    CONSTRAINT search_latency_minute_check CHECK (bucket_start = date_trunc('minute', bucket_start)),
    CONSTRAINT search_latency_mode_check CHECK (length(mode) BETWEEN 1 AND 32),
    CONSTRAINT search_latency_source_check CHECK (source IN ('server', 'benchmark')),
    CONSTRAINT search_latency_calls_check CHECK (calls >= 0 AND total_ms >= 0 AND max_ms >= 0),
    CONSTRAINT search_latency_histogram_check CHECK (cardinality(counts) = cardinality(le_ms) + 1)
);
COMMENT ON TABLE screenplay.search_latency IS
    'Search latency histograms per minute, mode (vector/keyword/hybrid), source (server/benchmark) and server instance';
GRANT SELECT, INSERT, UPDATE ON screenplay.search_latency TO screenplay_platform;

-- The histogram bounds (milliseconds) servers and benchmarks record with.
CREATE FUNCTION screenplay.search_latency_bounds() RETURNS double precision[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY[1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000, 10000]::double precision[]
$$;

-- Calls, QPS and latency quantiles of the searches recorded in the last
-- `window_length`, for the given modes and source. Quantiles are
-- interpolated inside histogram buckets (like Prometheus'
-- histogram_quantile); all NULL when nothing was recorded.
CREATE FUNCTION screenplay.search_latency_summary(
    window_length interval DEFAULT interval '1 hour',
    modes text[] DEFAULT ARRAY['vector', 'hybrid'],
    from_source text DEFAULT 'server')
    RETURNS TABLE (calls bigint, qps_avg double precision, qps_peak double precision,
                   p50_ms double precision, p95_ms double precision, p99_ms double precision,
                   max_ms double precision)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH recent AS (
        SELECT l.* FROM screenplay.search_latency AS l
        WHERE l.bucket_start >= date_trunc('minute', now() - window_length)
          AND l.mode = ANY (modes) AND l.source = from_source
    ), bounds AS (
        -- Rows recorded with other bounds (an older server) are left out of the quantiles.
        SELECT r.le_ms FROM recent AS r ORDER BY r.bucket_start DESC LIMIT 1
    ), buckets AS (
        SELECT b.idx, sum(b.n)::double precision AS n
        FROM recent AS r
        JOIN bounds ON bounds.le_ms = r.le_ms
        CROSS JOIN LATERAL unnest(r.counts) WITH ORDINALITY AS b(n, idx)
        GROUP BY b.idx
    ), cumulative AS (
        SELECT k.idx, k.n,
               sum(k.n) OVER (ORDER BY k.idx) AS upto,
               sum(k.n) OVER () AS total,
               coalesce((SELECT bounds.le_ms[k.idx - 1] FROM bounds), 0) AS lower_ms,
               coalesce((SELECT bounds.le_ms[k.idx] FROM bounds),
                        (SELECT max(r.max_ms) FROM recent AS r)) AS upper_ms
        FROM buckets AS k
    ), quantiles AS (
        SELECT q.q, (
            SELECT c.lower_ms + (c.upper_ms - c.lower_ms)
                       * greatest(q.q * c.total - (c.upto - c.n), 0) / nullif(c.n, 0)
            FROM cumulative AS c
            WHERE c.upto >= q.q * c.total AND c.n > 0
            ORDER BY c.idx LIMIT 1
        ) AS value
        FROM (VALUES (0.5::double precision), (0.95), (0.99)) AS q(q)
    ), per_minute AS (
        SELECT r.bucket_start, sum(r.calls) AS calls FROM recent AS r GROUP BY r.bucket_start
    )
    SELECT (SELECT sum(r.calls) FROM recent AS r)::bigint,
           (SELECT sum(r.calls) FROM recent AS r)::double precision / extract(epoch FROM window_length)::double precision,
           (SELECT max(m.calls) FROM per_minute AS m)::double precision / 60,
           (SELECT value FROM quantiles WHERE q = 0.5),
           (SELECT value FROM quantiles WHERE q = 0.95),
           (SELECT value FROM quantiles WHERE q = 0.99),
           (SELECT max(r.max_ms) FROM recent AS r)
$$;
REVOKE ALL ON FUNCTION screenplay.search_latency_summary(interval, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.search_latency_summary(interval, text[], text) TO screenplay_platform;

-- Size of every table of the schema; partitioned tables include all their
-- partitions. Row counts are the planner's estimates (last ANALYZE).
CREATE VIEW screenplay.table_sizes AS
SELECT 'screenplay'::text AS schema_name,
       t.relname::text AS table_name,
       (t.relkind = 'p') AS partitioned,
       (count(*) FILTER (WHERE p.level > 0 AND p.isleaf))::integer AS partitions,
       sum(CASE WHEN p.isleaf AND c.reltuples >= 0 THEN c.reltuples END)::bigint AS row_estimate,
       pg_size_pretty(sum(pg_total_relation_size(p.relid))) AS total_size,
       pg_size_pretty(sum(pg_table_size(p.relid))) AS table_size,
       pg_size_pretty(sum(pg_indexes_size(p.relid))) AS indexes_size,
       sum(pg_total_relation_size(p.relid))::bigint AS total_bytes,
       sum(pg_table_size(p.relid))::bigint AS table_bytes,
       sum(pg_indexes_size(p.relid))::bigint AS index_bytes
FROM pg_catalog.pg_class AS t
CROSS JOIN LATERAL (
    -- A partitioned table with its partitions, or a plain table alone.
    SELECT tree.relid, tree.level, tree.isleaf FROM pg_catalog.pg_partition_tree(t.oid) AS tree WHERE t.relkind = 'p'
    UNION ALL
    SELECT t.oid, 0, true WHERE t.relkind = 'r'
) AS p
JOIN pg_catalog.pg_class AS c ON c.oid = p.relid
WHERE t.relnamespace = 'screenplay'::regnamespace
  AND t.relkind IN ('r', 'p')
  AND NOT t.relispartition
GROUP BY t.relname, t.relkind
ORDER BY total_bytes DESC, table_name;
COMMENT ON VIEW screenplay.table_sizes IS
    'Size of each table (partitions included) and of its indexes; row_estimate is the planner''s (last ANALYZE)';

-- The vector store at a glance, and the seed's Milvus migration triggers.
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

-- Slow statements from pg_stat_statements, when that extension is
-- installed and loaded; otherwise no rows (see the README, "Monitoring").
-- SECURITY DEFINER: statistics are read as the owner (who sees every role's
-- statements when granted pg_read_all_stats).
CREATE FUNCTION screenplay.slow_query_stats(min_mean_ms double precision DEFAULT 100, max_rows integer DEFAULT 50)
    RETURNS TABLE (username text, query text, calls bigint, total_exec_ms double precision,
                   mean_exec_ms double precision, max_exec_ms double precision,
                   stddev_exec_ms double precision, rows bigint,
                   shared_blks_hit bigint, shared_blks_read bigint, cache_hit_ratio double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ext_schema name;
BEGIN
    SELECT n.nspname INTO ext_schema
    FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements';
    IF ext_schema IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT r.rolname::text, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.max_exec_time, '
        '       s.stddev_exec_time, s.rows, s.shared_blks_hit, s.shared_blks_read, '
        '       s.shared_blks_hit::double precision / nullif(s.shared_blks_hit + s.shared_blks_read, 0) '
        'FROM %I.pg_stat_statements AS s LEFT JOIN pg_roles AS r ON r.oid = s.userid '
        'WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) '
        '  AND s.mean_exec_time >= $1 '
        'ORDER BY s.mean_exec_time DESC LIMIT $2', ext_schema)
        USING min_mean_ms, max_rows;
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RAISE NOTICE 'pg_stat_statements is installed but not loaded: add it to shared_preload_libraries and restart PostgreSQL';
    RETURN;
END
$$;
REVOKE ALL ON FUNCTION screenplay.slow_query_stats(double precision, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.slow_query_stats(double precision, integer) TO screenplay_platform;

CREATE VIEW screenplay.slow_queries AS
SELECT * FROM screenplay.slow_query_stats(100, 50);
COMMENT ON VIEW screenplay.slow_queries IS
    'Statements of this database averaging >= 100 ms, slowest first (50 at most), from pg_stat_statements; '
    'empty when pg_stat_statements is not installed';

-- Every index of the schema with its use since statistics were reset;
-- partitioned indexes add up their partitions.
CREATE VIEW screenplay.index_usage AS
WITH leaf AS (
    SELECT coalesce(pg_partition_root(s.indexrelid), s.indexrelid) AS index_oid,
           s.idx_scan, s.idx_tup_read, s.idx_tup_fetch, s.last_idx_scan,
           pg_relation_size(s.indexrelid) AS bytes
    FROM pg_catalog.pg_stat_all_indexes AS s
    WHERE s.schemaname = 'screenplay'
)
SELECT t.relname::text AS table_name,
       ic.relname::text AS index_name,
       am.amname::text AS index_type,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       count(*)::integer AS partitions,
       sum(leaf.idx_scan)::bigint AS index_scans,
       sum(leaf.idx_tup_read)::bigint AS tuples_read,
       sum(leaf.idx_tup_fetch)::bigint AS tuples_fetched,
       max(leaf.last_idx_scan) AS last_scan,
       pg_size_pretty(sum(leaf.bytes)) AS index_size,
       sum(leaf.bytes)::bigint AS index_bytes,
       (sum(leaf.idx_scan) = 0 AND NOT i.indisunique AND NOT i.indisprimary) AS unused
FROM leaf
JOIN pg_catalog.pg_index AS i ON i.indexrelid = leaf.index_oid
JOIN pg_catalog.pg_class AS ic ON ic.oid = leaf.index_oid
JOIN pg_catalog.pg_class AS t ON t.oid = i.indrelid
JOIN pg_catalog.pg_am AS am ON am.oid = ic.relam
GROUP BY t.relname, ic.relname, am.amname, i.indisunique, i.indisprimary
ORDER BY table_name, index_name;
COMMENT ON VIEW screenplay.index_usage IS
    'Scans per index since the statistics were reset (partitions added up); unused: never scanned and enforcing nothing';

-- Share of block reads served from shared buffers; should stay above 0.99.
CREATE VIEW screenplay.cache_hit_ratio AS
WITH figures AS (
    SELECT 'database'::text AS scope, 1 AS ord, d.blks_hit AS hit, d.blks_read AS read
    FROM pg_catalog.pg_stat_database AS d WHERE d.datname = current_database()
    UNION ALL
    SELECT 'tables', 2, coalesce(sum(s.heap_blks_hit), 0)::bigint, coalesce(sum(s.heap_blks_read), 0)::bigint
    FROM pg_catalog.pg_statio_all_tables AS s WHERE s.schemaname = 'screenplay'
    UNION ALL
    SELECT 'indexes', 3, coalesce(sum(s.idx_blks_hit), 0)::bigint, coalesce(sum(s.idx_blks_read), 0)::bigint
    FROM pg_catalog.pg_statio_all_indexes AS s WHERE s.schemaname = 'screenplay'
)
SELECT f.scope,
       f.hit AS blocks_hit,
       f.read AS blocks_read,
       round(f.hit::numeric / nullif(f.hit + f.read, 0), 4) AS ratio,
       0.99::numeric AS target,
       (f.hit::numeric / nullif(f.hit + f.read, 0)) >= 0.99 AS healthy
FROM figures AS f
ORDER BY f.ord;
COMMENT ON VIEW screenplay.cache_hit_ratio IS
    'Buffer cache hit ratio of the database, the schema''s tables and its indexes; should stay above 0.99';

-- Client connections to this database by role, application and state.
-- SECURITY DEFINER: other roles' session states are visible to the owner
-- when it holds pg_read_all_stats (or pg_monitor); without it they show as 'hidden'.
CREATE FUNCTION screenplay.connection_activity()
    RETURNS TABLE (username text, application_name text, state text, connections bigint,
                   waiting_on_lock bigint, longest_transaction interval, longest_in_state interval,
                   database_connections bigint, max_connections integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH sessions AS (
        SELECT a.usename::text AS username, a.application_name, coalesce(a.state, 'hidden') AS state,
               a.wait_event_type, a.xact_start, a.state_change
        FROM pg_stat_activity AS a
        WHERE a.datname = current_database() AND a.backend_type = 'client backend'
    )
    SELECT s.username, s.application_name, s.state, count(*),
           count(*) FILTER (WHERE s.wait_event_type = 'Lock'),
           max(now() - s.xact_start), max(now() - s.state_change),
           sum(count(*)) OVER ()::bigint,
           current_setting('max_connections')::integer
    FROM sessions AS s
    GROUP BY s.username, s.application_name, s.state
    ORDER BY count(*) DESC, s.username, s.application_name, s.state
$$;
REVOKE ALL ON FUNCTION screenplay.connection_activity() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.connection_activity() TO screenplay_platform;

CREATE VIEW screenplay.connection_stats AS
SELECT * FROM screenplay.connection_activity();
COMMENT ON VIEW screenplay.connection_stats IS
    'Client connections to this database by role, application and state, with lock waits and the longest transaction';

GRANT SELECT ON screenplay.table_sizes, screenplay.vector_db_metrics, screenplay.slow_queries,
    screenplay.index_usage, screenplay.cache_hit_ratio, screenplay.connection_stats
    TO screenplay_platform;
