-- Session lists ordered by last change (`sessions(orderBy: UPDATED_AT_*)`).
CREATE INDEX screenplay_sessions_tenant_updated_idx
    ON screenplay.screenplay_sessions (tenant_id, updated_at DESC, id DESC);
