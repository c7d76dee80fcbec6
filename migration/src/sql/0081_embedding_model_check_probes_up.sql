-- check_embedding_model looked for a row of another model with
-- `embedding_model < m OR embedding_model > m`. Once PostgreSQL switched the
-- function's query to a generic plan (from its sixth call in a session), it
-- read every row of the workspace: 450-770 ms per call on a 100,000-row
-- workspace. Two probes of the (workspace_id, embedding_model) index, the
-- smallest and the largest model of the workspace, answer the same question
-- with any plan.
CREATE OR REPLACE FUNCTION screenplay.check_embedding_model(p_workspace_id uuid, p_embedding_model text) RETURNS void
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    other text;
BEGIN
    IF p_embedding_model IS NULL THEN
        RETURN;
    END IF;
    SELECT d.embedding_model INTO other
    FROM screenplay.code_documents AS d
    WHERE d.workspace_id = p_workspace_id AND d.embedding_model IS NOT NULL
    ORDER BY d.embedding_model
    LIMIT 1;
    IF other = p_embedding_model THEN
        SELECT d.embedding_model INTO other
        FROM screenplay.code_documents AS d
        WHERE d.workspace_id = p_workspace_id AND d.embedding_model IS NOT NULL
        ORDER BY d.embedding_model DESC
        LIMIT 1;
    END IF;
    IF other IS DISTINCT FROM p_embedding_model AND other IS NOT NULL THEN
        RAISE EXCEPTION 'the workspace''s documents are embedded with model "%", not "%"', other, p_embedding_model
            USING ERRCODE = 'data_exception',
                  HINT = 'search with the model the documents were embedded with, or re-ingest them';
    END IF;
END
$$;
