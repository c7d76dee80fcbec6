-- Tenants, users, workspaces and the auth tables.
--
-- Child tables carry `tenant_id` and reference their parent by
-- (tenant_id, id), so a row can never point at another tenant's row.

CREATE TABLE screenplay.tenants (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug                        text NOT NULL,
    name                        text NOT NULL,
    status                      text NOT NULL DEFAULT 'active',
    plan                        text NOT NULL DEFAULT 'free',
    -- Limits; NULL means unlimited.
    requests_per_minute         integer,
    llm_tokens_per_day          bigint,
    embedding_tokens_per_month  bigint,
    max_documents               integer,
    settings                    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_slug_key UNIQUE (slug),
    CONSTRAINT tenants_slug_check CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenants_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended')),
    CONSTRAINT tenants_plan_check CHECK (plan IN ('free', 'pro', 'enterprise')),
    CONSTRAINT tenants_limits_check CHECK (
        coalesce(requests_per_minute, 1) > 0
        AND coalesce(llm_tokens_per_day, 1) > 0
        AND coalesce(embedding_tokens_per_month, 1) > 0
        AND coalesce(max_documents, 1) > 0
    ),
    CONSTRAINT tenants_settings_check CHECK (jsonb_typeof(settings) = 'object')
);

CREATE TABLE screenplay.users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid NOT NULL REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    email               text NOT NULL,
    display_name        text NOT NULL,
    -- argon2id PHC string; NULL for accounts that sign in through an identity provider.
    password_hash       text,
    -- `sub` of an external identity provider's tokens, when the user signs in there.
    external_subject    text,
    role                text NOT NULL,
    status              text NOT NULL DEFAULT 'active',
    failed_login_count  integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    last_login_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT users_email_check CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 320),
    CONSTRAINT users_display_name_check CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
    CONSTRAINT users_role_check CHECK (role IN ('tenant_admin', 'member', 'viewer', 'agent')),
    CONSTRAINT users_status_check CHECK (status IN ('active', 'disabled')),
    CONSTRAINT users_failed_login_count_check CHECK (failed_login_count >= 0)
);
CREATE UNIQUE INDEX users_tenant_email_key ON screenplay.users (tenant_id, lower(email));
CREATE UNIQUE INDEX users_tenant_external_subject_key ON screenplay.users (tenant_id, external_subject)
    WHERE external_subject IS NOT NULL;

CREATE TABLE screenplay.refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    -- All tokens rotated from one login share a family; reuse of a rotated
    -- token revokes the whole family.
    family_id   uuid NOT NULL,
    -- SHA-256 of the token; the token itself is never stored.
    token_hash  bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES screenplay.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_user_idx ON screenplay.refresh_tokens (tenant_id, user_id);
CREATE INDEX refresh_tokens_family_idx ON screenplay.refresh_tokens (family_id);

CREATE TABLE screenplay.workspaces (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    name         text NOT NULL,
    slug         text NOT NULL,
    description  text,
    settings     jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL DEFAULT 'active',
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspaces_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT workspaces_tenant_slug_key UNIQUE (tenant_id, slug),
    CONSTRAINT workspaces_slug_check CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT workspaces_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT workspaces_status_check CHECK (status IN ('active', 'archived')),
    CONSTRAINT workspaces_settings_check CHECK (jsonb_typeof(settings) = 'object'),
    -- Deleting a user keeps the workspace and forgets who created it.
    CONSTRAINT workspaces_created_by_fkey FOREIGN KEY (tenant_id, created_by)
        REFERENCES screenplay.users (tenant_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX workspaces_created_by_idx ON screenplay.workspaces (created_by);

CREATE TRIGGER tenants_set_updated_at BEFORE UPDATE ON screenplay.tenants
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON screenplay.users
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
CREATE TRIGGER workspaces_set_updated_at BEFORE UPDATE ON screenplay.workspaces
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
