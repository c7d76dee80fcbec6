-- Maintenance functions with the seed design's names (README_DATABASE.md,
-- "关键函数" and "定期维护"): cleanup_old_logs, analyze_all_tables,
-- vacuum_and_analyze_all, reindex_all_tables, benchmark_vector_search; the
-- record of maintenance runs; and the owner's search_path, so that the
-- seed's crontab lines (`SELECT vacuum_and_analyze_all();` without a schema)
-- work as the owner in psql.
--
-- PostgreSQL runs a function inside a transaction, where VACUUM and
-- REINDEX CONCURRENTLY are forbidden: `screenplay maintenance vacuum` and
-- `screenplay maintenance reindex` do those, and the functions say so.

-- One row per maintenance job run (scheduler, CLI or API). A scheduled run
-- claims (job, slot) first, so with several server instances each slot runs
-- once. Holds no tenant data.
CREATE TABLE screenplay.maintenance_runs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job          text NOT NULL,
    -- The scheduled minute; NULL for runs started by hand.
    slot         timestamptz,
    started_by   text NOT NULL,
    instance     text,
    status       text NOT NULL DEFAULT 'running',
    detail       text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CONSTRAINT maintenance_runs_job_slot_key UNIQUE (job, slot),
    CONSTRAINT maintenance_runs_job_check
        CHECK (job IN ('vacuum', 'analyze', 'reindex', 'cleanup', 'partitions', 'backup')),
    CONSTRAINT maintenance_runs_started_by_check CHECK (started_by IN ('schedule', 'cli', 'api')),
    CONSTRAINT maintenance_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed'))
);
CREATE INDEX maintenance_runs_started_idx ON screenplay.maintenance_runs (started_at);
COMMENT ON TABLE screenplay.maintenance_runs IS 'Maintenance jobs run by the scheduler, the CLI and the API';
GRANT SELECT, INSERT, UPDATE ON screenplay.maintenance_runs TO screenplay_platform;

-- Removes log rows older than `days` days from the four log tables (and
-- search_latency): partitions entirely older than the cut-off are dropped,
-- rows older than it inside the boundary partition are deleted. One row per
-- table with the rows removed. quota_usage keeps at least 35 days: tenant
-- limits count usage per month.
CREATE FUNCTION screenplay.cleanup_old_logs(days integer DEFAULT 90)
    RETURNS TABLE (table_name text, deleted_count bigint, partitions_dropped integer, cutoff timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET datestyle = 'ISO, YMD'
AS $$
DECLARE
    tables constant text[] := ARRAY['execution_logs', 'llm_call_logs', 'audit_logs', 'quota_usage'];
    parts record;
    bound text[];
    lower_bound timestamptz;
    upper_bound timestamptz;
    n bigint;
BEGIN
    IF days IS NULL OR days < 1 THEN
        RAISE EXCEPTION 'cleanup_old_logs: days must be at least 1 (got %)', days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. cardinality(tables) LOOP
        table_name := tables[i];
        deleted_count := 0;
        partitions_dropped := 0;
        cutoff := now() - make_interval(days => days);
        IF table_name = 'quota_usage' AND days < 35 THEN
            cutoff := now() - interval '35 days';
            RAISE NOTICE 'cleanup_old_logs: quota_usage keeps 35 days (tenant limits count usage per month)';
        END IF;
        FOR parts IN
            SELECT c.oid::regclass AS rel, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits AS inh JOIN pg_class AS c ON c.oid = inh.inhrelid
            WHERE inh.inhparent = format('screenplay.%I', table_name)::regclass
            ORDER BY c.relname
        LOOP
            bound := regexp_match(parts.bound, $re$FROM \('([^']+)'\) TO \('([^']+)'\)$re$);
            CONTINUE WHEN bound IS NULL;  -- a DEFAULT partition or MINVALUE/MAXVALUE bounds
            lower_bound := bound[1]::timestamptz;
            upper_bound := bound[2]::timestamptz;
            IF upper_bound <= cutoff THEN
                EXECUTE format('SELECT count(*) FROM %s', parts.rel) INTO n;
                EXECUTE format('DROP TABLE %s', parts.rel);
                deleted_count := deleted_count + n;
                partitions_dropped := partitions_dropped + 1;
            ELSIF lower_bound < cutoff THEN
                EXECUTE format('DELETE FROM %s WHERE %I < $1', parts.rel,
                               CASE WHEN table_name = 'quota_usage' THEN 'bucket_start' ELSE 'created_at' END)
                    USING cutoff;
                GET DIAGNOSTICS n = ROW_COUNT;
                deleted_count := deleted_count + n;
            END IF;
        END LOOP;
        RETURN NEXT;
    END LOOP;

    table_name := 'search_latency';
    partitions_dropped := 0;
    cutoff := now() - make_interval(days => days);
    DELETE FROM screenplay.search_latency AS l WHERE l.bucket_start < cutoff;
    GET DIAGNOSTICS deleted_count = ROW_COUNT;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION screenplay.cleanup_old_logs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.cleanup_old_logs(integer) TO screenplay_platform;

-- ANALYZE of every table of the schema (partitioned tables with their
-- partitions), as the owner. Allowed inside a transaction, so online.
CREATE FUNCTION screenplay.analyze_all_tables()
    RETURNS TABLE (table_name text, duration_ms double precision)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz;
BEGIN
    FOR table_name IN
        SELECT c.relname::text FROM pg_class AS c
        WHERE c.relnamespace = 'screenplay'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY c.relname
    LOOP
        started := clock_timestamp();
        EXECUTE format('ANALYZE screenplay.%I', table_name);
        duration_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION screenplay.analyze_all_tables() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.analyze_all_tables() TO screenplay_platform;

-- The seed's daily job. PostgreSQL refuses VACUUM inside a function, so
-- this runs ANALYZE only and says (NOTICE and result) what was not done.
CREATE FUNCTION screenplay.vacuum_and_analyze_all() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    analyzed integer;
    dead bigint;
    message text;
BEGIN
    SELECT count(*) INTO analyzed FROM screenplay.analyze_all_tables();
    SELECT coalesce(sum(s.n_dead_tup), 0) INTO dead
    FROM pg_stat_all_tables AS s WHERE s.schemaname = 'screenplay';
    message := format(
        'ANALYZE done on %s tables. VACUUM NOT done: PostgreSQL does not allow VACUUM inside a function '
        '(%s dead rows wait for it). Run `screenplay maintenance vacuum`, or `VACUUM (ANALYZE);` in psql as %s.',
        analyzed, dead, session_user);
    RAISE NOTICE '%', message;
    RETURN message;
END
$$;
REVOKE ALL ON FUNCTION screenplay.vacuum_and_analyze_all() FROM PUBLIC;

-- The seed's monthly job. PostgreSQL refuses REINDEX ... CONCURRENTLY (and
-- REINDEX of a partitioned table) inside a function, so this rebuilds every
-- index table by table (each partition on its own) with plain REINDEX, which
-- blocks writes to each table while its indexes are rebuilt, and says so.
CREATE FUNCTION screenplay.reindex_all_tables() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass;
    tables integer := 0;
    indexes integer := 0;
    started timestamptz := clock_timestamp();
    message text;
BEGIN
    FOR rel IN
        SELECT c.oid::regclass FROM pg_class AS c
        WHERE c.relnamespace = 'screenplay'::regnamespace AND c.relkind = 'r'
        ORDER BY c.relname
    LOOP
        EXECUTE format('REINDEX TABLE %s', rel);
        tables := tables + 1;
        indexes := indexes + (SELECT count(*) FROM pg_index AS i WHERE i.indrelid = rel);
    END LOOP;
    message := format(
        'REINDEX done: %s indexes of %s tables and partitions in %s s, without CONCURRENTLY (PostgreSQL does not '
        'allow it inside a function), so writes to each table waited while its indexes were rebuilt. For an online '
        'rebuild run `screenplay maintenance reindex` (REINDEX TABLE CONCURRENTLY).',
        indexes, tables, round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
    RAISE NOTICE '%', message;
    RETURN message;
END
$$;
REVOKE ALL ON FUNCTION screenplay.reindex_all_tables() FROM PUBLIC;

-- Runs `n` vector searches (top 10 by cosine distance within the workspace)
-- with query vectors taken at random from the workspace's own documents, and
-- returns each run's time. Row-level security applies (SECURITY INVOKER).
-- The timings are also recorded in search_latency (source 'benchmark'),
-- which vector_db_metrics.benchmark_p99_ms reads.
CREATE FUNCTION screenplay.benchmark_vector_search(workspace uuid, n integer)
    RETURNS TABLE (run integer, query_document_id uuid, execution_time_ms double precision, result_count integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    queries uuid[];
    query_vector public.vector;
    started timestamptz;
    bounds constant double precision[] := screenplay.search_latency_bounds();
    counts bigint[] := array_fill(0::bigint, ARRAY[cardinality(screenplay.search_latency_bounds()) + 1]);
    slot integer;
    total double precision := 0;
    slowest double precision := 0;
BEGIN
    IF n IS NULL OR n < 1 OR n > 10000 THEN
        RAISE EXCEPTION 'benchmark_vector_search: n must be between 1 and 10000 (got %)', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(d.id) INTO queries FROM (
        SELECT c.id FROM screenplay.code_documents AS c
        WHERE c.workspace_id = workspace AND c.embedding IS NOT NULL
        ORDER BY random() LIMIT n
    ) AS d;
    IF queries IS NULL THEN
        RAISE EXCEPTION 'benchmark_vector_search: workspace % has no documents with embeddings (or is not visible to %)',
            workspace, current_user
            USING ERRCODE = 'no_data_found';
    END IF;
    FOR i IN 1 .. n LOOP
        run := i;
        query_document_id := queries[1 + (i - 1) % cardinality(queries)];
        SELECT c.embedding INTO query_vector FROM screenplay.code_documents AS c WHERE c.id = query_document_id;
        started := clock_timestamp();
        SELECT count(*) INTO result_count FROM (
            SELECT c.id FROM screenplay.code_documents AS c
            WHERE c.workspace_id = workspace AND c.embedding IS NOT NULL
            ORDER BY c.embedding OPERATOR(public.<=>) query_vector
            LIMIT 10
        ) AS hits;
        execution_time_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
        slot := coalesce(array_position(ARRAY(SELECT execution_time_ms <= b FROM unnest(bounds) AS b), true),
                         cardinality(bounds) + 1);
        counts[slot] := counts[slot] + 1;
        total := total + execution_time_ms;
        slowest := greatest(slowest, execution_time_ms);
        RETURN NEXT;
    END LOOP;
    INSERT INTO screenplay.search_latency AS l
        (bucket_start, mode, source, instance, calls, total_ms, max_ms, le_ms, counts)
    VALUES (date_trunc('minute', now()), 'vector', 'benchmark', 'sql:' || current_user, n, total, slowest,
            bounds, counts)
    ON CONFLICT (bucket_start, mode, source, instance) DO UPDATE
        SET calls = l.calls + EXCLUDED.calls,
            total_ms = l.total_ms + EXCLUDED.total_ms,
            max_ms = greatest(l.max_ms, EXCLUDED.max_ms),
            counts = ARRAY(SELECT a + b FROM unnest(l.counts, EXCLUDED.counts) AS x(a, b));
END
$$;
REVOKE ALL ON FUNCTION screenplay.benchmark_vector_search(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.benchmark_vector_search(uuid, integer) TO screenplay_platform;

-- The seed's crontab calls the functions without a schema, as the owner:
-- put the schema on the owner's search_path in this database. After
-- public, so that unqualified CREATEs and the migration table stay where
-- they were.
DO $$
BEGIN
    EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET search_path = "$user", public, screenplay',
                   current_database());
END
$$;
