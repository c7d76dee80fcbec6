-- Back to 0010: the triggers send the whole event as the NOTIFY payload.

CREATE OR REPLACE FUNCTION screenplay.screenplay_sessions_notify() RETURNS trigger
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

CREATE OR REPLACE FUNCTION screenplay.screenplay_fragments_notify() RETURNS trigger
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

CREATE OR REPLACE FUNCTION screenplay.outline_steps_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM screenplay.notify_session_event(NEW.tenant_id, NEW.session_id, 'step_status_changed',
        jsonb_build_object('stepId', NEW.id, 'status', NEW.status, 'previousStatus', OLD.status));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION screenplay.notify_session_event(p_tenant uuid, p_session uuid, p_type text, p_detail jsonb)
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_notify(
        'screenplay_session_events',
        (jsonb_build_object('type', p_type, 'tenantId', p_tenant, 'sessionId', p_session, 'at', clock_timestamp())
            || coalesce(p_detail, '{}'::jsonb))::text)
$$;

DROP FUNCTION screenplay.session_events_by_id(bigint[]);
DROP FUNCTION screenplay.record_session_event(uuid, uuid, text, jsonb);
DROP TABLE screenplay.session_events;
