ALTER POLICY tenant_isolation ON screenplay.code_documents
    USING (tenant_id = screenplay.current_tenant_id())
    WITH CHECK (tenant_id = screenplay.current_tenant_id());
ALTER POLICY tenant_isolation ON screenplay.retrieved_documents
    USING (tenant_id = screenplay.current_tenant_id())
    WITH CHECK (tenant_id = screenplay.current_tenant_id());
DROP FUNCTION screenplay.get_document_statistics(uuid);
DROP FUNCTION screenplay.hybrid_search_documents(uuid, text, vector, integer, integer, double precision,
    double precision, integer, double precision, text, text, text, jsonb, integer);
DROP FUNCTION screenplay.search_by_keywords(uuid, text, integer, double precision, text, text, jsonb);
DROP FUNCTION screenplay.keyword_hits(uuid, tsquery, integer, text, text, jsonb);
DROP FUNCTION screenplay.search_similar_documents(uuid, vector, integer, double precision, text, text, text,
    jsonb, integer, boolean);
DROP FUNCTION screenplay.check_embedding_model(uuid, text);
DROP INDEX screenplay.code_documents_workspace_model_idx;
DROP INDEX screenplay.code_documents_workspace_created_idx;
DROP FUNCTION screenplay.keyword_tsquery(text, text);
DROP FUNCTION screenplay.cjk_query_ngrams(text);

-- The definition of 0004, and the stored vectors recomputed with it.
CREATE OR REPLACE FUNCTION screenplay.strip_cjk(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT regexp_replace(coalesce(input, ''),
                          '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', ' ', 'g')
$$;
ALTER TABLE screenplay.code_documents
    ALTER COLUMN search_vector SET EXPRESSION AS (screenplay.document_search_vector(language, title, content));
