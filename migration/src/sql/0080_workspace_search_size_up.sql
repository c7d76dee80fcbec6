-- How many chunks a workspace holds, counted up to a cap, for the API's
-- search statement to choose its plan: a workspace of at most a few
-- thousand chunks is compared row by row (exact, and cheaper than walking
-- the HNSW graph), a larger one is searched through the HNSW index.
--
-- Runs as the owner so that the count is an index-only scan of the
-- workspace's btree entries (under row-level security every entry would
-- cost a heap visit to check its tenant), and checks the tenant itself, as
-- keyword_hits does: a workspace of another tenant, or no tenant at all,
-- counts 0.
CREATE FUNCTION screenplay.workspace_size_capped(p_workspace_id uuid, p_cap integer)
    RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)
    FROM (
        SELECT 1
        FROM screenplay.code_documents AS d
        WHERE d.workspace_id = p_workspace_id
          AND EXISTS (SELECT 1 FROM screenplay.workspaces AS w
                      WHERE w.id = p_workspace_id AND w.tenant_id = screenplay.current_tenant_id())
        LIMIT p_cap
    ) AS capped
$$;
REVOKE ALL ON FUNCTION screenplay.workspace_size_capped(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.workspace_size_capped(uuid, integer) TO screenplay_app, screenplay_platform;
