DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'tenants', 'users', 'refresh_tokens', 'workspaces', 'screenplay_sessions', 'outline_steps',
        'screenplay_fragments', 'fragment_versions', 'code_documents', 'retrieved_documents',
        'execution_logs', 'llm_call_logs', 'audit_logs', 'quota_usage'
    ] LOOP
        EXECUTE format('ALTER TABLE screenplay.%I FORCE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
