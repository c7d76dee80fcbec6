-- The LLM usage totals of a session as a PostGraphile computed column
-- (`ScreenplaySession.usage`), for the side-by-side benchmark only: our schema
-- has no such function (our server sums llm_call_logs per page of sessions in
-- one GROUP BY). Applied by benches/postgraphile.rs, as the owner, to the
-- bench database alone; never a migration. SECURITY INVOKER (the default), so
-- row-level security applies to the calls it sums.
CREATE TYPE screenplay.session_usage AS (
    call_count   integer,
    total_tokens integer,
    cost_usd     numeric
);

CREATE FUNCTION screenplay.screenplay_sessions_usage(s screenplay.screenplay_sessions)
    RETURNS screenplay.session_usage
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT count(*)::integer, coalesce(sum(total_tokens), 0)::integer, coalesce(sum(cost_usd), 0)
    FROM screenplay.llm_call_logs
    WHERE tenant_id = s.tenant_id AND session_id = s.id
$$;

GRANT USAGE ON TYPE screenplay.session_usage TO screenplay_app;
GRANT EXECUTE ON FUNCTION screenplay.screenplay_sessions_usage(screenplay.screenplay_sessions) TO screenplay_app;
