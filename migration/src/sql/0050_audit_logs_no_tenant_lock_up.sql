-- The audit log no longer references tenants by a foreign key.
--
-- Every insert into a table with a foreign key to tenants takes a KEY SHARE
-- lock on the tenant's row. The audit log gets a row from every mutation of a
-- tenant, inside the mutation's transaction, so concurrent mutations of one
-- tenant all locked the same row (MultiXacts under load), and the check cost a
-- third of the insert's execution time (BENCHMARKS.md). The tenant of a row is
-- guaranteed without it: the server inserts a mutation's row with row-level
-- security checking tenant_id against app.tenant_id, which is set only after
-- the request's first statement found the tenant, and the batch writer unlinks
-- rows of a tenant deleted meanwhile. What ON DELETE CASCADE did, a trigger
-- does: the server's roles keep no DELETE privilege on the log.
ALTER TABLE screenplay.audit_logs DROP CONSTRAINT audit_logs_tenant_id_fkey;

CREATE FUNCTION screenplay.delete_tenant_audit_logs() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, screenplay AS $$
BEGIN
    DELETE FROM screenplay.audit_logs WHERE tenant_id = OLD.id;
    RETURN OLD;
END;
$$;
REVOKE ALL ON FUNCTION screenplay.delete_tenant_audit_logs() FROM PUBLIC;

CREATE TRIGGER tenants_delete_audit_logs
    AFTER DELETE ON screenplay.tenants
    FOR EACH ROW EXECUTE FUNCTION screenplay.delete_tenant_audit_logs();
