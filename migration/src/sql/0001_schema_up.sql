-- Schema, extensions, roles and the helpers every later migration uses.
--
-- Extensions: `vector` is not a trusted extension, so a non-superuser migration
-- owner needs it pre-installed by an administrator (the local dev database does
-- this itself). `CREATE EXTENSION IF NOT EXISTS` is then a no-op.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE SCHEMA screenplay;
COMMENT ON SCHEMA screenplay IS 'RAG screenplay generation: tenants, sessions, documents, logs';

-- Roles are cluster-wide, so they are created only when missing and never
-- dropped by a down migration (other databases of the cluster may use them).
--   screenplay_app       the API server's role: row-level security applies.
--   screenplay_platform  assumed with SET LOCAL ROLE for platform-admin work;
--                        granted WITHOUT inherit, so the app never holds its
--                        rights by accident.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'screenplay_app') THEN
        CREATE ROLE screenplay_app NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'screenplay_platform') THEN
        CREATE ROLE screenplay_platform NOLOGIN;
    END IF;
END
$$;
GRANT screenplay_platform TO screenplay_app WITH INHERIT FALSE, SET TRUE;

GRANT USAGE ON SCHEMA screenplay TO screenplay_app, screenplay_platform;

-- The server's readiness check compares applied migrations with its own.
DO $$
BEGIN
    IF to_regclass('public.seaql_migrations') IS NOT NULL THEN
        GRANT SELECT ON TABLE public.seaql_migrations TO screenplay_app, screenplay_platform;
    END IF;
END
$$;

-- The tenant of the current transaction, from `SET LOCAL app.tenant_id`.
-- Missing or malformed settings give NULL, which matches no row.
CREATE FUNCTION screenplay.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s::uuid
    END
    FROM (SELECT current_setting('app.tenant_id', true) AS s) AS setting
$$;

-- Keeps `updated_at` honest whatever client writes the row.
CREATE FUNCTION screenplay.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
