-- The lookup of 0070: the subject compared as text.
CREATE OR REPLACE FUNCTION screenplay.begin_tenant_request(p_tenant uuid, p_subject text, p_session uuid DEFAULT NULL)
    RETURNS TABLE (
        tenant_status text, user_id uuid, user_role text, user_status text,
        requests_per_minute integer, session_revoked boolean
    )
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT t.status, t.requests_per_minute INTO tenant_status, requests_per_minute
    FROM screenplay.tenants AS t WHERE t.id = p_tenant;
    SELECT u.id, u.role, u.status INTO user_id, user_role, user_status
    FROM screenplay.users AS u
    WHERE u.tenant_id = p_tenant
      AND (u.id::text = p_subject OR u.external_subject = p_subject)
    LIMIT 1;
    session_revoked := p_session IS NOT NULL AND EXISTS (
        SELECT 1 FROM screenplay.refresh_tokens AS r
        WHERE r.family_id = p_session AND r.revoked_at IS NOT NULL
    );
    PERFORM set_config('app.user_id', coalesce(user_id::text, ''), true);
    RETURN NEXT;
END
$$;
