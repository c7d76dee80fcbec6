-- Screenplay sessions, their outline tree, fragments with version history,
-- and the record of which documents were retrieved for which step.

CREATE TABLE screenplay.screenplay_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES screenplay.tenants (id) ON DELETE CASCADE,
    workspace_id  uuid NOT NULL,
    created_by    uuid,
    title         text NOT NULL,
    logline       text,
    genre         text,
    language      text NOT NULL DEFAULT 'en',
    -- planning until an outline exists, generating while a step runs,
    -- completed / failed from the steps, cancelled by a person.
    status        text NOT NULL DEFAULT 'planning',
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    error         text,
    -- Optimistic lock: every update bumps it; a stale version is a conflict.
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT screenplay_sessions_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT screenplay_sessions_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    CONSTRAINT screenplay_sessions_status_check
        CHECK (status IN ('planning', 'generating', 'completed', 'failed', 'cancelled')),
    CONSTRAINT screenplay_sessions_config_check CHECK (jsonb_typeof(config) = 'object'),
    CONSTRAINT screenplay_sessions_version_check CHECK (version >= 1),
    CONSTRAINT screenplay_sessions_workspace_fkey FOREIGN KEY (tenant_id, workspace_id)
        REFERENCES screenplay.workspaces (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT screenplay_sessions_created_by_fkey FOREIGN KEY (tenant_id, created_by)
        REFERENCES screenplay.users (tenant_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX screenplay_sessions_workspace_created_idx
    ON screenplay.screenplay_sessions (workspace_id, created_at DESC, id DESC);
CREATE INDEX screenplay_sessions_tenant_created_idx
    ON screenplay.screenplay_sessions (tenant_id, created_at DESC, id DESC);
CREATE INDEX screenplay_sessions_created_by_idx ON screenplay.screenplay_sessions (created_by);
CREATE INDEX screenplay_sessions_title_trgm_idx
    ON screenplay.screenplay_sessions USING gin (title gin_trgm_ops);

CREATE TABLE screenplay.outline_steps (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL,
    session_id      uuid NOT NULL,
    -- Acts > sequences > scenes: a step may have child steps.
    parent_step_id  uuid,
    -- Dense 0-based order among siblings.
    position        integer NOT NULL,
    title           text NOT NULL,
    description     text,
    status          text NOT NULL DEFAULT 'pending',
    agent_name      text,
    error           text,
    started_at      timestamptz,
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT outline_steps_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT outline_steps_session_id_id_key UNIQUE (session_id, id),
    -- Deferred so that a move can renumber siblings inside one transaction.
    CONSTRAINT outline_steps_sibling_position_key
        UNIQUE NULLS NOT DISTINCT (session_id, parent_step_id, position) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT outline_steps_position_check CHECK (position >= 0),
    CONSTRAINT outline_steps_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    CONSTRAINT outline_steps_status_check
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped')),
    CONSTRAINT outline_steps_session_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES screenplay.screenplay_sessions (tenant_id, id) ON DELETE CASCADE,
    -- A parent must belong to the same session.
    CONSTRAINT outline_steps_parent_fkey FOREIGN KEY (session_id, parent_step_id)
        REFERENCES screenplay.outline_steps (session_id, id) ON DELETE CASCADE
);
CREATE INDEX outline_steps_tenant_idx ON screenplay.outline_steps (tenant_id);
CREATE INDEX outline_steps_parent_idx ON screenplay.outline_steps (parent_step_id);

CREATE TABLE screenplay.screenplay_fragments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    session_id   uuid NOT NULL,
    step_id      uuid NOT NULL,
    -- Dense 0-based order within the step.
    position     integer NOT NULL,
    kind         text NOT NULL,
    "character"  text,
    content      text NOT NULL,
    -- Current version; earlier ones live in fragment_versions.
    version      integer NOT NULL DEFAULT 1,
    origin       text NOT NULL DEFAULT 'new',
    agent_name   text,
    token_count  integer,
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT screenplay_fragments_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT screenplay_fragments_step_position_key
        UNIQUE (step_id, position) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT screenplay_fragments_position_check CHECK (position >= 0),
    CONSTRAINT screenplay_fragments_kind_check CHECK (kind IN (
        'scene_heading', 'action', 'character', 'dialogue', 'parenthetical', 'transition', 'note')),
    CONSTRAINT screenplay_fragments_origin_check CHECK (origin IN ('new', 'continue', 'rewrite', 'edit')),
    CONSTRAINT screenplay_fragments_content_check CHECK (length(btrim(content)) > 0),
    CONSTRAINT screenplay_fragments_version_check CHECK (version >= 1),
    CONSTRAINT screenplay_fragments_token_count_check CHECK (token_count IS NULL OR token_count >= 0),
    CONSTRAINT screenplay_fragments_session_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES screenplay.screenplay_sessions (tenant_id, id) ON DELETE CASCADE,
    -- The step must belong to the fragment's session.
    CONSTRAINT screenplay_fragments_step_fkey FOREIGN KEY (session_id, step_id)
        REFERENCES screenplay.outline_steps (session_id, id) ON DELETE CASCADE,
    CONSTRAINT screenplay_fragments_created_by_fkey FOREIGN KEY (tenant_id, created_by)
        REFERENCES screenplay.users (tenant_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX screenplay_fragments_session_idx ON screenplay.screenplay_fragments (session_id);
CREATE INDEX screenplay_fragments_tenant_idx ON screenplay.screenplay_fragments (tenant_id);
CREATE INDEX screenplay_fragments_created_by_idx ON screenplay.screenplay_fragments (created_by);

-- Every earlier version of a fragment, kept when it is revised.
CREATE TABLE screenplay.fragment_versions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    fragment_id  uuid NOT NULL,
    version      integer NOT NULL,
    "character"  text,
    content      text NOT NULL,
    origin       text NOT NULL,
    agent_name   text,
    created_by   uuid,
    -- When this version was written (not when it was superseded).
    created_at   timestamptz NOT NULL,
    CONSTRAINT fragment_versions_fragment_version_key UNIQUE (fragment_id, version),
    CONSTRAINT fragment_versions_origin_check CHECK (origin IN ('new', 'continue', 'rewrite', 'edit')),
    CONSTRAINT fragment_versions_fragment_fkey FOREIGN KEY (tenant_id, fragment_id)
        REFERENCES screenplay.screenplay_fragments (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX fragment_versions_tenant_idx ON screenplay.fragment_versions (tenant_id);

CREATE TRIGGER screenplay_sessions_set_updated_at BEFORE UPDATE ON screenplay.screenplay_sessions
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
CREATE TRIGGER outline_steps_set_updated_at BEFORE UPDATE ON screenplay.outline_steps
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
CREATE TRIGGER screenplay_fragments_set_updated_at BEFORE UPDATE ON screenplay.screenplay_fragments
    FOR EACH ROW EXECUTE FUNCTION screenplay.set_updated_at();
