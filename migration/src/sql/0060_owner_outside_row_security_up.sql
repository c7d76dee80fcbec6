-- Row-level security stays enabled on every tenant-owned table, but no
-- longer FORCEd: the schema owner (the DBA's role) is the table owner and
-- bypasses it, as PostgreSQL intends, so the seed's backup command
-- `pg_dump -U screenplay_user -d screenplay_db -F c -f backup.dump` (which
-- refuses tables whose policies would apply to it) works as written.
-- Tenant isolation is unchanged: FORCE only ever concerned the owner, whose
-- owner_access policy showed it every row anyway; the server's role
-- (screenplay_app) is not the owner, and a server given the owner's URL
-- switches every tenant transaction to screenplay_app.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'tenants', 'users', 'refresh_tokens', 'workspaces', 'screenplay_sessions', 'outline_steps',
        'screenplay_fragments', 'fragment_versions', 'code_documents', 'retrieved_documents',
        'execution_logs', 'llm_call_logs', 'audit_logs', 'quota_usage'
    ] LOOP
        EXECUTE format('ALTER TABLE screenplay.%I NO FORCE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
