DROP TRIGGER tenants_delete_audit_logs ON screenplay.tenants;
DROP FUNCTION screenplay.delete_tenant_audit_logs();
-- Rows of tenants that no longer exist are unlinked, as the batch writer does.
UPDATE screenplay.audit_logs a
   SET tenant_id = NULL,
       details = details || jsonb_build_object('deletedTenantId', a.tenant_id)
 WHERE a.tenant_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM screenplay.tenants t WHERE t.id = a.tenant_id);
ALTER TABLE screenplay.audit_logs
    ADD CONSTRAINT audit_logs_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES screenplay.tenants (id) ON DELETE CASCADE;
