-- Live session events that cannot be forged. Until now the triggers sent the
-- whole event as the NOTIFY payload and the server delivered whatever
-- arrived on `screenplay_session_events`; but any role that can connect may
-- NOTIFY any channel, so a fake `session_deleted` could end a subscription.
-- Now each event is a row of `screenplay.session_events`, written only by
-- the SECURITY DEFINER functions below (no other role holds a privilege on
-- the table, and row-level security is on with no policy), and the NOTIFY
-- carries nothing but the row's id. The server reads the row back through
-- `screenplay.session_events_by_id` and ignores ids it cannot find, so a
-- forged NOTIFY delivers nothing.
--
-- Rows are needed only until the listeners have read them: every 1024th
-- event deletes rows older than 10 minutes (through the index on
-- created_at), and rows older than that are not returned either, so an id
-- replayed after a listener forgot it finds nothing. An event of a
-- transaction that commits more than 10 minutes after writing it is lost.

CREATE TABLE screenplay.session_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    session_id uuid NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE screenplay.session_events IS
    'Live session events, written by triggers; NOTIFY screenplay_session_events carries the id. Pruned after 10 minutes.';
CREATE INDEX session_events_created_at_idx ON screenplay.session_events (created_at);
-- No policy: only the owner (and its SECURITY DEFINER functions) reads or writes.
ALTER TABLE screenplay.session_events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON screenplay.session_events FROM PUBLIC;

-- Writes one event and notifies its id; every 1024th prunes old events.
CREATE FUNCTION screenplay.record_session_event(p_tenant uuid, p_session uuid, p_type text, p_detail jsonb)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO screenplay.session_events (tenant_id, session_id, kind, payload)
    VALUES (p_tenant, p_session, p_type,
            coalesce(p_detail, '{}'::jsonb)
                || jsonb_build_object('type', p_type, 'tenantId', p_tenant, 'sessionId', p_session,
                                      'at', clock_timestamp()))
    RETURNING id INTO v_id;
    IF v_id % 1024 = 0 THEN
        DELETE FROM screenplay.session_events WHERE created_at < clock_timestamp() - interval '10 minutes';
    END IF;
    PERFORM pg_notify('screenplay_session_events', v_id::text);
END
$$;
REVOKE ALL ON FUNCTION screenplay.record_session_event(uuid, uuid, text, jsonb) FROM PUBLIC;

-- The events of `p_ids` that exist and are recent, in the order asked: what
-- the server's listener delivers (its role may not read the table).
CREATE FUNCTION screenplay.session_events_by_id(p_ids bigint[])
    RETURNS TABLE (id bigint, payload jsonb)
    LANGUAGE sql STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.id, e.payload
    FROM unnest(p_ids) WITH ORDINALITY AS wanted (event_id, ord)
    JOIN screenplay.session_events AS e ON e.id = wanted.event_id
    WHERE e.created_at >= now() - interval '10 minutes'
    ORDER BY wanted.ord
$$;
REVOKE ALL ON FUNCTION screenplay.session_events_by_id(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.session_events_by_id(bigint[]) TO screenplay_app, screenplay_platform;

-- The server's own announcement (`outline_changed`; every other kind comes
-- from a trigger): only for a session of the transaction's tenant.
CREATE OR REPLACE FUNCTION screenplay.notify_session_event(p_tenant uuid, p_session uuid, p_type text, p_detail jsonb)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_type IS DISTINCT FROM 'outline_changed' THEN
        RAISE EXCEPTION 'session event % is sent by a trigger, not announced', p_type
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_tenant IS DISTINCT FROM screenplay.current_tenant_id()
       OR NOT EXISTS (SELECT 1 FROM screenplay.screenplay_sessions AS s
                      WHERE s.tenant_id = p_tenant AND s.id = p_session) THEN
        RAISE EXCEPTION 'no session % in the current tenant', p_session
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM screenplay.record_session_event(p_tenant, p_session, p_type, p_detail);
END
$$;

-- The triggers' functions run as the owner, the one role that may write
-- events; a trigger function cannot be called any other way.
CREATE OR REPLACE FUNCTION screenplay.outline_steps_notify() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM screenplay.record_session_event(NEW.tenant_id, NEW.session_id, 'step_status_changed',
        jsonb_build_object('stepId', NEW.id, 'status', NEW.status, 'previousStatus', OLD.status));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION screenplay.screenplay_fragments_notify() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM screenplay.record_session_event(OLD.tenant_id, OLD.session_id, 'fragment_deleted',
            jsonb_build_object('fragmentId', OLD.id, 'stepId', OLD.step_id, 'version', OLD.version));
    ELSE
        PERFORM screenplay.record_session_event(NEW.tenant_id, NEW.session_id,
            CASE TG_OP WHEN 'INSERT' THEN 'fragment_appended' ELSE 'fragment_revised' END,
            jsonb_build_object('fragmentId', NEW.id, 'stepId', NEW.step_id, 'version', NEW.version));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION screenplay.screenplay_sessions_notify() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM screenplay.record_session_event(OLD.tenant_id, OLD.id, 'session_deleted',
            jsonb_build_object('previousStatus', OLD.status));
    ELSE
        PERFORM screenplay.record_session_event(NEW.tenant_id, NEW.id, 'session_status_changed',
            jsonb_build_object('status', NEW.status, 'previousStatus', OLD.status));
    END IF;
    RETURN NULL;
END
$$;
