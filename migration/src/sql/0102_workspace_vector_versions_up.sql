-- A version per workspace that changes whenever the set of its vectors
-- does (a chunk inserted or deleted, a vector or its model changed, a
-- chunk moved), in the same transaction as the change. A server that keeps
-- a workspace's vectors in memory to pick exact-search candidates
-- (`search::resident`) stores the version it read with them, and the search
-- statement uses the candidates only when the version it reads in its own
-- snapshot is the same: then the vectors are the ones the candidates were
-- picked from, and the answer is what comparing every row would give.
--
-- The version is the id of the writing transaction (`pg_current_xact_id`,
-- 64 bits, never reused by the cluster): two states of a workspace never
-- share one, also across a restore, which sets the version of every row it
-- writes here to its own transaction's id. Written by statement-level
-- triggers (one row per statement and workspace, not per chunk), as the
-- owner. Concurrent writers to one workspace queue on its version row
-- from their write to their commit.
CREATE TABLE screenplay.workspace_vector_versions (
    workspace_id uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    version      bigint NOT NULL,
    CONSTRAINT workspace_vector_versions_workspace_fkey FOREIGN KEY (tenant_id, workspace_id)
        REFERENCES screenplay.workspaces (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE screenplay.workspace_vector_versions IS
    'Changes with the set of a workspace''s vectors (triggers on code_documents); in-memory vector copies check it.';
ALTER TABLE screenplay.workspace_vector_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screenplay.workspace_vector_versions TO screenplay_app
    USING (tenant_id = (SELECT screenplay.current_tenant_id()));
CREATE POLICY platform_access ON screenplay.workspace_vector_versions TO screenplay_platform USING (true);
REVOKE ALL ON screenplay.workspace_vector_versions FROM PUBLIC;
GRANT SELECT ON screenplay.workspace_vector_versions TO screenplay_app, screenplay_platform;

-- Every row written here gets the writing transaction's id as its version,
-- and a workspace that has a row keeps it (updated): what the triggers
-- below write, and what a data-only restore copies in (whose versions are
-- another cluster's, or an older state's).
CREATE FUNCTION screenplay.workspace_vector_version_written()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.version := pg_current_xact_id()::text::bigint;
    UPDATE screenplay.workspace_vector_versions SET version = NEW.version
    WHERE workspace_id = NEW.workspace_id;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER workspace_vector_version_written BEFORE INSERT ON screenplay.workspace_vector_versions
    FOR EACH ROW EXECUTE FUNCTION screenplay.workspace_vector_version_written();

-- New versions for the workspaces in `changed` that still exist (a
-- workspace being deleted takes its chunks and its version row with it).
CREATE FUNCTION screenplay.bump_workspace_vector_versions(p_changed uuid[])
    RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO screenplay.workspace_vector_versions (workspace_id, tenant_id, version)
    SELECT w.id, w.tenant_id, 0
    FROM screenplay.workspaces AS w
    WHERE w.id = ANY (p_changed)
    ORDER BY w.id
    -- Two first writes of one workspace at once: the second updates.
    ON CONFLICT (workspace_id) DO UPDATE SET version = excluded.version
$$;
REVOKE ALL ON FUNCTION screenplay.bump_workspace_vector_versions(uuid[]) FROM PUBLIC;

CREATE FUNCTION screenplay.code_documents_vectors_changed()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM screenplay.bump_workspace_vector_versions(
            ARRAY(SELECT DISTINCT workspace_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM screenplay.bump_workspace_vector_versions(
            ARRAY(SELECT DISTINCT workspace_id FROM old_rows));
    ELSE
        PERFORM screenplay.bump_workspace_vector_versions(ARRAY(
            SELECT DISTINCT ws
            FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id,
                 LATERAL (VALUES (n.workspace_id), (o.workspace_id)) AS changed (ws)
            WHERE (n.embedding IS NULL) <> (o.embedding IS NULL)
               OR n.embedding OPERATOR(public.<>) o.embedding
               OR n.embedding_model IS DISTINCT FROM o.embedding_model
               OR n.workspace_id <> o.workspace_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER code_documents_vectors_inserted AFTER INSERT ON screenplay.code_documents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.code_documents_vectors_changed();
CREATE TRIGGER code_documents_vectors_updated AFTER UPDATE ON screenplay.code_documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.code_documents_vectors_changed();
CREATE TRIGGER code_documents_vectors_deleted AFTER DELETE ON screenplay.code_documents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.code_documents_vectors_changed();

-- TRUNCATE has no transition table: every version goes, and with it every
-- in-memory copy's claim to be current.
CREATE FUNCTION screenplay.code_documents_truncated()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM screenplay.workspace_vector_versions;
    RETURN NULL;
END
$$;
CREATE TRIGGER code_documents_truncated AFTER TRUNCATE ON screenplay.code_documents
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.code_documents_truncated();

-- Workspaces that already hold chunks start at a version.
SELECT screenplay.bump_workspace_vector_versions(ARRAY(SELECT DISTINCT workspace_id FROM screenplay.code_documents));
