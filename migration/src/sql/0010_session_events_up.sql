-- Live session events: PostgreSQL NOTIFY on channel `screenplay_session_events`,
-- sent from triggers inside the writing transaction and therefore delivered
-- to every listening server process on commit, in commit order. Rolled back
-- changes send nothing. Payloads are small JSON objects (ids and statuses,
-- never fragment text): the NOTIFY payload limit is 8000 bytes.

CREATE FUNCTION screenplay.notify_session_event(p_tenant uuid, p_session uuid, p_type text, p_detail jsonb)
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_notify(
        'screenplay_session_events',
        (jsonb_build_object('type', p_type, 'tenantId', p_tenant, 'sessionId', p_session, 'at', clock_timestamp())
            || coalesce(p_detail, '{}'::jsonb))::text)
$$;
REVOKE ALL ON FUNCTION screenplay.notify_session_event(uuid, uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.notify_session_event(uuid, uuid, text, jsonb)
    TO screenplay_app, screenplay_platform;

CREATE FUNCTION screenplay.outline_steps_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM screenplay.notify_session_event(NEW.tenant_id, NEW.session_id, 'step_status_changed',
        jsonb_build_object('stepId', NEW.id, 'status', NEW.status, 'previousStatus', OLD.status));
    RETURN NULL;
END
$$;
CREATE TRIGGER outline_steps_notify_status AFTER UPDATE OF status ON screenplay.outline_steps
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION screenplay.outline_steps_notify();

CREATE FUNCTION screenplay.screenplay_fragments_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM screenplay.notify_session_event(OLD.tenant_id, OLD.session_id, 'fragment_deleted',
            jsonb_build_object('fragmentId', OLD.id, 'stepId', OLD.step_id, 'version', OLD.version));
    ELSE
        PERFORM screenplay.notify_session_event(NEW.tenant_id, NEW.session_id,
            CASE TG_OP WHEN 'INSERT' THEN 'fragment_appended' ELSE 'fragment_revised' END,
            jsonb_build_object('fragmentId', NEW.id, 'stepId', NEW.step_id, 'version', NEW.version));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER screenplay_fragments_notify_insert AFTER INSERT ON screenplay.screenplay_fragments
    FOR EACH ROW EXECUTE FUNCTION screenplay.screenplay_fragments_notify();
CREATE TRIGGER screenplay_fragments_notify_revise AFTER UPDATE OF version ON screenplay.screenplay_fragments
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION screenplay.screenplay_fragments_notify();
CREATE TRIGGER screenplay_fragments_notify_delete AFTER DELETE ON screenplay.screenplay_fragments
    FOR EACH ROW EXECUTE FUNCTION screenplay.screenplay_fragments_notify();

CREATE FUNCTION screenplay.screenplay_sessions_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM screenplay.notify_session_event(OLD.tenant_id, OLD.id, 'session_deleted',
            jsonb_build_object('previousStatus', OLD.status));
    ELSE
        PERFORM screenplay.notify_session_event(NEW.tenant_id, NEW.id, 'session_status_changed',
            jsonb_build_object('status', NEW.status, 'previousStatus', OLD.status));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER screenplay_sessions_notify_status AFTER UPDATE OF status ON screenplay.screenplay_sessions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION screenplay.screenplay_sessions_notify();
CREATE TRIGGER screenplay_sessions_notify_delete AFTER DELETE ON screenplay.screenplay_sessions
    FOR EACH ROW EXECUTE FUNCTION screenplay.screenplay_sessions_notify();
