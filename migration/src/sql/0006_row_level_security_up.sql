-- Row-level security on every tenant-owned table, FORCEd so that it applies
-- to every role that has no policy of its own.
--
--   screenplay_app       sees and writes only rows of current_tenant_id()
--                        (SET LOCAL app.tenant_id by the server's tenant transaction).
--   screenplay_platform  (assumed with SET LOCAL ROLE for platform-admin work
--                        and the server's own background writers) sees all rows.
--   the migration owner  (CURRENT_USER here) sees all rows: it is the DBA's role.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'users', 'refresh_tokens', 'workspaces', 'screenplay_sessions', 'outline_steps',
        'screenplay_fragments', 'fragment_versions', 'code_documents', 'retrieved_documents',
        'execution_logs', 'llm_call_logs', 'audit_logs', 'quota_usage'
    ] LOOP
        EXECUTE format('ALTER TABLE screenplay.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE screenplay.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON screenplay.%I TO screenplay_app '
            'USING (tenant_id = screenplay.current_tenant_id()) '
            'WITH CHECK (tenant_id = screenplay.current_tenant_id())', t);
        EXECUTE format(
            'CREATE POLICY platform_access ON screenplay.%I TO screenplay_platform USING (true) WITH CHECK (true)', t);
        EXECUTE format(
            'CREATE POLICY owner_access ON screenplay.%I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;

ALTER TABLE screenplay.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE screenplay.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screenplay.tenants FOR SELECT TO screenplay_app
    USING (id = screenplay.current_tenant_id());
CREATE POLICY platform_access ON screenplay.tenants TO screenplay_platform USING (true) WITH CHECK (true);
CREATE POLICY owner_access ON screenplay.tenants TO CURRENT_USER USING (true) WITH CHECK (true);

-- Privileges: logs are append-only for the server; nothing else is granted,
-- in particular nothing on the log partitions themselves (which would
-- bypass the parent's policies).
GRANT SELECT ON screenplay.tenants TO screenplay_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    screenplay.users, screenplay.refresh_tokens, screenplay.workspaces,
    screenplay.screenplay_sessions, screenplay.outline_steps, screenplay.screenplay_fragments,
    screenplay.fragment_versions, screenplay.code_documents, screenplay.retrieved_documents
    TO screenplay_app, screenplay_platform;
GRANT SELECT, INSERT, UPDATE, DELETE ON screenplay.tenants TO screenplay_platform;
GRANT SELECT, INSERT ON
    screenplay.execution_logs, screenplay.llm_call_logs, screenplay.audit_logs
    TO screenplay_app, screenplay_platform;
GRANT SELECT, INSERT, UPDATE ON screenplay.quota_usage TO screenplay_app, screenplay_platform;

REVOKE ALL ON FUNCTION screenplay.ensure_log_partitions(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.ensure_log_partitions(integer, integer)
    TO screenplay_app, screenplay_platform;

-- The tenant behind a slug, for sign-in before any tenant is known.
CREATE FUNCTION screenplay.tenant_by_slug(p_slug text)
    RETURNS TABLE (id uuid, status text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.status FROM screenplay.tenants AS t WHERE t.slug = p_slug
$$;
REVOKE ALL ON FUNCTION screenplay.tenant_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.tenant_by_slug(text) TO screenplay_app, screenplay_platform;

-- First statement of every tenant transaction: scopes the transaction to the
-- tenant and answers, in the same round trip, whether the caller may still
-- act (tenant active, user present and enabled). `p_subject` is the token's
-- `sub`: a user id, or an identity provider's subject.
CREATE FUNCTION screenplay.begin_tenant_request(p_tenant uuid, p_subject text)
    RETURNS TABLE (tenant_status text, user_id uuid, user_role text, user_status text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT t.status INTO tenant_status FROM screenplay.tenants AS t WHERE t.id = p_tenant;
    SELECT u.id, u.role, u.status INTO user_id, user_role, user_status
    FROM screenplay.users AS u
    WHERE u.tenant_id = p_tenant
      AND (u.id::text = p_subject OR u.external_subject = p_subject)
    LIMIT 1;
    PERFORM set_config('app.user_id', coalesce(user_id::text, ''), true);
    RETURN NEXT;
END
$$;
