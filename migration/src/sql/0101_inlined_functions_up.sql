-- Two small SQL functions PostgreSQL could not inline, so that every call
-- ran as a query of its own (about 20 µs): `current_tenant_id`, which every
-- row-level security policy of `screenplay_app` evaluates once per table a
-- statement reads (the caller's statement of each request, a search's
-- statement), read the setting in a FROM clause; `ts_config_for` (every
-- keyword search, every indexed chunk) cast its text result to regconfig at
-- run time, a stable cast inside an immutable function. Both are now one
-- expression over constants and immutable or stable calls, which the
-- planner inlines into the statement.
-- Same values for every input.
CREATE OR REPLACE FUNCTION screenplay.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN current_setting('app.tenant_id', true)
             ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        THEN current_setting('app.tenant_id', true)::uuid
    END
$$;

CREATE OR REPLACE FUNCTION screenplay.ts_config_for(language text) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE lower(split_part(split_part(coalesce(language, ''), '-', 1), '_', 1))
        WHEN 'en' THEN 'pg_catalog.english'::regconfig
        WHEN 'de' THEN 'pg_catalog.german'::regconfig
        WHEN 'fr' THEN 'pg_catalog.french'::regconfig
        WHEN 'es' THEN 'pg_catalog.spanish'::regconfig
        WHEN 'it' THEN 'pg_catalog.italian'::regconfig
        WHEN 'pt' THEN 'pg_catalog.portuguese'::regconfig
        WHEN 'nl' THEN 'pg_catalog.dutch'::regconfig
        WHEN 'ru' THEN 'pg_catalog.russian'::regconfig
        WHEN 'sv' THEN 'pg_catalog.swedish'::regconfig
        ELSE 'pg_catalog.simple'::regconfig
    END
$$;

