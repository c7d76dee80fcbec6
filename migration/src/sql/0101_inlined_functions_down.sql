-- Back to the definitions of 0001 and 0004.
CREATE OR REPLACE FUNCTION screenplay.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s::uuid
    END
    FROM (SELECT current_setting('app.tenant_id', true) AS s) AS setting
$$;

CREATE OR REPLACE FUNCTION screenplay.ts_config_for(language text) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (CASE lower(split_part(split_part(coalesce(language, ''), '-', 1), '_', 1))
        WHEN 'en' THEN 'pg_catalog.english'
        WHEN 'de' THEN 'pg_catalog.german'
        WHEN 'fr' THEN 'pg_catalog.french'
        WHEN 'es' THEN 'pg_catalog.spanish'
        WHEN 'it' THEN 'pg_catalog.italian'
        WHEN 'pt' THEN 'pg_catalog.portuguese'
        WHEN 'nl' THEN 'pg_catalog.dutch'
        WHEN 'ru' THEN 'pg_catalog.russian'
        WHEN 'sv' THEN 'pg_catalog.swedish'
        ELSE 'pg_catalog.simple'
    END)::regconfig
$$;

