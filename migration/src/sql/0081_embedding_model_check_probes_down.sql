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
    WHERE d.workspace_id = p_workspace_id
      AND (d.embedding_model < p_embedding_model OR d.embedding_model > p_embedding_model)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the workspace''s documents are embedded with model "%", not "%"', other, p_embedding_model
            USING ERRCODE = 'data_exception',
                  HINT = 'search with the model the documents were embedded with, or re-ingest them';
    END IF;
END
$$;
