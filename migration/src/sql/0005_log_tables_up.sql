-- Append-only logs, partitioned by month so that retention drops whole
-- partitions instead of deleting rows. Partitions are created ahead of time
-- by ensure_log_partitions() (at migration, by the server every day, and by
-- `screenplay maintenance partitions`).

CREATE TABLE screenplay.execution_logs (
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    session_id   uuid,
    step_id      uuid,
    agent_name   text NOT NULL,
    action       text NOT NULL,
    status       text NOT NULL,
    input        jsonb,
    output       jsonb,
    error        text,
    duration_ms  bigint GENERATED ALWAYS AS
                     ((extract(epoch FROM finished_at - started_at) * 1000)::bigint) STORED,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at),
    CONSTRAINT execution_logs_status_check CHECK (status IN ('started', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT execution_logs_finished_check CHECK (finished_at IS NULL OR finished_at >= started_at),
    -- Logs outlive a deleted session: the link is cleared, the row stays.
    CONSTRAINT execution_logs_session_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES screenplay.screenplay_sessions (tenant_id, id) ON DELETE SET NULL (session_id),
    CONSTRAINT execution_logs_step_fkey FOREIGN KEY (tenant_id, step_id)
        REFERENCES screenplay.outline_steps (tenant_id, id) ON DELETE SET NULL (step_id)
) PARTITION BY RANGE (created_at);
CREATE INDEX execution_logs_tenant_created_idx ON screenplay.execution_logs (tenant_id, created_at);
CREATE INDEX execution_logs_session_idx ON screenplay.execution_logs (session_id, created_at);
CREATE INDEX execution_logs_step_idx ON screenplay.execution_logs (step_id);

CREATE TABLE screenplay.llm_call_logs (
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    session_id         uuid,
    step_id            uuid,
    fragment_id        uuid,
    provider           text NOT NULL,
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL DEFAULT 0,
    completion_tokens  integer NOT NULL DEFAULT 0,
    total_tokens       integer GENERATED ALWAYS AS (prompt_tokens + completion_tokens) STORED,
    cost_usd           numeric(14, 6) NOT NULL DEFAULT 0,
    latency_ms         integer,
    status             text NOT NULL,
    error              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at),
    CONSTRAINT llm_call_logs_tokens_check CHECK (prompt_tokens >= 0 AND completion_tokens >= 0),
    CONSTRAINT llm_call_logs_cost_check CHECK (cost_usd >= 0),
    CONSTRAINT llm_call_logs_latency_check CHECK (latency_ms IS NULL OR latency_ms >= 0),
    CONSTRAINT llm_call_logs_status_check CHECK (status IN ('succeeded', 'failed')),
    CONSTRAINT llm_call_logs_session_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES screenplay.screenplay_sessions (tenant_id, id) ON DELETE SET NULL (session_id),
    CONSTRAINT llm_call_logs_step_fkey FOREIGN KEY (tenant_id, step_id)
        REFERENCES screenplay.outline_steps (tenant_id, id) ON DELETE SET NULL (step_id),
    CONSTRAINT llm_call_logs_fragment_fkey FOREIGN KEY (tenant_id, fragment_id)
        REFERENCES screenplay.screenplay_fragments (tenant_id, id) ON DELETE SET NULL (fragment_id)
) PARTITION BY RANGE (created_at);
CREATE INDEX llm_call_logs_tenant_created_idx ON screenplay.llm_call_logs (tenant_id, created_at);
CREATE INDEX llm_call_logs_session_idx ON screenplay.llm_call_logs (session_id, created_at);
CREATE INDEX llm_call_logs_step_idx ON screenplay.llm_call_logs (step_id);
CREATE INDEX llm_call_logs_fragment_idx ON screenplay.llm_call_logs (fragment_id);

CREATE TABLE screenplay.audit_logs (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    -- NULL for requests without a valid token and for platform admins.
    tenant_id       uuid REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    -- Kept after the user is deleted: no foreign key on purpose.
    user_id         uuid,
    subject         text,
    role            text,
    request_id      text NOT NULL,
    operation_type  text,
    operation_name  text,
    fields          text[] NOT NULL DEFAULT '{}',
    resource_type   text,
    resource_ids    text[] NOT NULL DEFAULT '{}',
    outcome         text NOT NULL,
    error_codes     text[] NOT NULL DEFAULT '{}',
    ip              inet,
    user_agent      text,
    -- Variables (secrets redacted) and, for mutations, what changed.
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    duration_ms     integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at),
    CONSTRAINT audit_logs_outcome_check CHECK (outcome IN ('ok', 'error')),
    CONSTRAINT audit_logs_operation_type_check
        CHECK (operation_type IS NULL OR operation_type IN ('query', 'mutation', 'subscription'))
) PARTITION BY RANGE (created_at);
CREATE INDEX audit_logs_tenant_created_idx ON screenplay.audit_logs (tenant_id, created_at);
CREATE INDEX audit_logs_user_created_idx ON screenplay.audit_logs (user_id, created_at);
CREATE INDEX audit_logs_request_idx ON screenplay.audit_logs (request_id);

-- Usage counters per tenant, metric and hour.
CREATE TABLE screenplay.quota_usage (
    tenant_id     uuid NOT NULL REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    metric        text NOT NULL,
    bucket_start  timestamptz NOT NULL,
    value         numeric(20, 6) NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, metric, bucket_start),
    CONSTRAINT quota_usage_metric_check CHECK (metric IN (
        'requests', 'mutations', 'search_queries', 'documents_ingested',
        'embedding_tokens', 'llm_tokens', 'llm_cost')),
    CONSTRAINT quota_usage_bucket_check CHECK (bucket_start = date_trunc('hour', bucket_start))
) PARTITION BY RANGE (bucket_start);
CREATE INDEX quota_usage_tenant_bucket_idx ON screenplay.quota_usage (tenant_id, bucket_start);

-- Creates the monthly partitions (UTC months) of the four log tables from
-- `months_back` months before the current month to `months_ahead` after it.
-- SECURITY DEFINER: the server's role may call it but cannot create tables.
CREATE FUNCTION screenplay.ensure_log_partitions(months_back integer DEFAULT 0, months_ahead integer DEFAULT 3)
    RETURNS TABLE (parent_table text, partition_name text, created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent text;
    month_start timestamp;
    part text;
BEGIN
    IF months_back < 0 OR months_ahead < 0 OR months_back + months_ahead > 240 THEN
        RAISE EXCEPTION 'ensure_log_partitions: months_back and months_ahead must be between 0 and 240 in total';
    END IF;
    FOREACH parent IN ARRAY ARRAY['execution_logs', 'llm_call_logs', 'audit_logs', 'quota_usage'] LOOP
        FOR i IN -months_back .. months_ahead LOOP
            month_start := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i);
            part := format('%s_y%sm%s', parent, to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
            parent_table := parent;
            partition_name := part;
            created := to_regclass(format('screenplay.%I', part)) IS NULL;
            IF created THEN
                EXECUTE format(
                    'CREATE TABLE screenplay.%I PARTITION OF screenplay.%I FOR VALUES FROM (%L) TO (%L)',
                    part, parent,
                    month_start AT TIME ZONE 'UTC',
                    (month_start + interval '1 month') AT TIME ZONE 'UTC');
            END IF;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;

SELECT count(*) FROM screenplay.ensure_log_partitions(0, 3);
