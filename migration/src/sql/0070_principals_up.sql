-- Platform admins are principals: one row per admin, checked at the start of
-- every platform transaction. `issuer` is '' for the server's own tokens and
-- the identity provider's `iss` for its tokens, so the table is also the
-- allow-list of identity-provider subjects that may act as platform admins.
-- Tokens issued before `tokens_valid_after` are refused.
CREATE TABLE screenplay.platform_admins (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer             text NOT NULL DEFAULT '',
    subject            text NOT NULL,
    name               text,
    status             text NOT NULL DEFAULT 'active',
    tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_admins_issuer_subject_key UNIQUE (issuer, subject),
    CONSTRAINT platform_admins_status_check CHECK (status IN ('active', 'disabled')),
    CONSTRAINT platform_admins_subject_check CHECK (length(btrim(subject)) BETWEEN 1 AND 255)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON screenplay.platform_admins TO screenplay_platform;
CREATE TRIGGER platform_admins_set_updated_at BEFORE UPDATE ON screenplay.platform_admins
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();

-- What the first statement of a platform admin's transaction reads (before
-- it assumes the platform role); tenant callers cannot read the table.
CREATE FUNCTION screenplay.platform_admin_status(p_issuer text, p_subject text)
    RETURNS TABLE (admin_id uuid, status text, tokens_valid_after timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.id, a.status, a.tokens_valid_after
    FROM screenplay.platform_admins AS a
    WHERE a.issuer = p_issuer AND a.subject = p_subject
$$;
REVOKE ALL ON FUNCTION screenplay.platform_admin_status(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.platform_admin_status(text, text) TO screenplay_app, screenplay_platform;

-- Access tokens of a sign-in carry its refresh-token family (`sid`); the
-- first statement of every tenant transaction also says whether that sign-in
-- was revoked (logout, reuse of a rotated refresh token, user disabled), by
-- one lookup on refresh_tokens_family_idx.
DROP FUNCTION screenplay.begin_tenant_request(uuid, text);
CREATE FUNCTION screenplay.begin_tenant_request(p_tenant uuid, p_subject text, p_session uuid DEFAULT NULL)
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
