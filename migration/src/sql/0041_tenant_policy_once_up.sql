-- Row-level security reads the transaction's tenant once per statement (an
-- InitPlan) instead of once per row, as 0020 did for the document tables.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'users', 'refresh_tokens', 'workspaces', 'screenplay_sessions', 'outline_steps',
        'screenplay_fragments', 'fragment_versions', 'execution_logs', 'llm_call_logs',
        'audit_logs', 'quota_usage'
    ] LOOP
        EXECUTE format(
            'ALTER POLICY tenant_isolation ON screenplay.%I '
            'USING (tenant_id = (SELECT screenplay.current_tenant_id())) '
            'WITH CHECK (tenant_id = (SELECT screenplay.current_tenant_id()))', t);
    END LOOP;
END
$$;
ALTER POLICY tenant_isolation ON screenplay.tenants USING (id = (SELECT screenplay.current_tenant_id()));
