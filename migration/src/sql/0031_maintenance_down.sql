DO $$
BEGIN
    EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I RESET search_path', current_database());
END
$$;
DROP FUNCTION screenplay.benchmark_vector_search(uuid, integer);
DROP FUNCTION screenplay.reindex_all_tables();
DROP FUNCTION screenplay.vacuum_and_analyze_all();
DROP FUNCTION screenplay.analyze_all_tables();
DROP FUNCTION screenplay.cleanup_old_logs(integer);
DROP TABLE screenplay.maintenance_runs;
