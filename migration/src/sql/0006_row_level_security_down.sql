DROP FUNCTION screenplay.begin_tenant_request(uuid, text);
DROP FUNCTION screenplay.tenant_by_slug(text);
REVOKE ALL ON ALL TABLES IN SCHEMA screenplay FROM screenplay_app, screenplay_platform;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'tenants', 'users', 'refresh_tokens', 'workspaces', 'screenplay_sessions', 'outline_steps',
        'screenplay_fragments', 'fragment_versions', 'code_documents', 'retrieved_documents',
        'execution_logs', 'llm_call_logs', 'audit_logs', 'quota_usage'
    ] LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON screenplay.%I', t);
        EXECUTE format('DROP POLICY platform_access ON screenplay.%I', t);
        EXECUTE format('DROP POLICY owner_access ON screenplay.%I', t);
        EXECUTE format('ALTER TABLE screenplay.%I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE screenplay.%I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
