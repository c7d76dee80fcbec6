\timing on
INSERT INTO screenplay.tenants (id, slug, name) VALUES ('00000000-0000-0000-0000-0000000000a1', 'bench', 'Bench');
INSERT INTO screenplay.workspaces (id, tenant_id, name, slug) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', 'Bench', 'bench');
-- 20 clusters of 1,000 documents: centroid + small noise
CREATE TEMP TABLE centroids AS SELECT c, (SELECT array_agg(random()::real) FROM generate_series(1,1536) WHERE c > 0) AS v FROM generate_series(1,20) c;
INSERT INTO screenplay.code_documents (tenant_id, workspace_id, source_path, title, content, content_hash, embedding, embedding_model)
SELECT '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1', 'doc' || g, 'T' || g, 'content ' || g, md5(g::text),
       (SELECT array_agg(x + (random()::real - 0.5) * 0.1) FROM unnest(ce.v) x WHERE g > 0)::vector(1536), 'bench'
FROM generate_series(1, 20000) g JOIN centroids ce ON ce.c = 1 + g % 20;
ANALYZE screenplay.code_documents;
SELECT AVG(execution_time_ms) AS avg_time_ms,
       PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY execution_time_ms) AS p50_time_ms,
       PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY execution_time_ms) AS p95_time_ms,
       PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY execution_time_ms) AS p99_time_ms
FROM benchmark_vector_search('00000000-0000-0000-0000-0000000000b1'::UUID, 100);
SELECT total_vectors, index_size, total_size, benchmark_p99_ms, recommendation FROM screenplay.vector_db_metrics;
-- retention: 200k audit rows 120 days old, removed by dropping their partition
SELECT count(*) FROM screenplay.ensure_log_partitions(6, 3);
INSERT INTO screenplay.audit_logs (tenant_id, request_id, outcome, created_at)
SELECT '00000000-0000-0000-0000-0000000000a1', 'r' || g, 'ok', date_trunc('month', now() - interval '120 days') + make_interval(secs => g) FROM generate_series(1, 200000) g;
SELECT * FROM cleanup_old_logs(90);
-- the same rows removed by DELETE instead
INSERT INTO screenplay.audit_logs (tenant_id, request_id, outcome, created_at)
SELECT '00000000-0000-0000-0000-0000000000a1', 'r' || g, 'ok', now() - interval '20 days' + make_interval(secs => g) FROM generate_series(1, 200000) g;
DELETE FROM screenplay.audit_logs WHERE created_at < now() - interval '10 days';
