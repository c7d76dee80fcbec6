-- Back to word and CJK-pair ranking only.
DROP FUNCTION screenplay.keyword_hits(uuid, text, integer, text, text, jsonb);
CREATE FUNCTION screenplay.keyword_hits(
    p_workspace_id uuid, p_tsq tsquery, p_limit integer,
    p_language text, p_source_path_prefix text, p_metadata jsonb
)
    RETURNS TABLE (id uuid, score double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.id, ts_rank(d.search_vector, p_tsq, 1)::double precision
    FROM screenplay.code_documents AS d
    WHERE d.tenant_id = (SELECT screenplay.current_tenant_id())
      AND d.workspace_id = p_workspace_id
      AND d.search_vector @@ p_tsq
      AND (p_language IS NULL OR d.language = p_language)
      AND (p_source_path_prefix IS NULL OR starts_with(d.source_path, p_source_path_prefix))
      AND (p_metadata IS NULL OR d.metadata @> p_metadata)
    ORDER BY 2 DESC, 1
    LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION screenplay.keyword_hits(uuid, tsquery, integer, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.keyword_hits(uuid, tsquery, integer, text, text, jsonb)
    TO screenplay_app, screenplay_platform;

CREATE OR REPLACE FUNCTION screenplay.search_by_keywords(
    p_workspace_id       uuid,
    p_query              text,
    p_limit              integer DEFAULT 10,
    p_min_score          double precision DEFAULT NULL,
    p_language           text DEFAULT NULL,
    p_source_path_prefix text DEFAULT NULL,
    p_metadata           jsonb DEFAULT NULL
)
    RETURNS TABLE (
        id uuid, source_path text, title text, content text, chunk_index integer, chunk_count integer,
        language text, metadata jsonb, score double precision, rank integer
    )
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    tsq tsquery := screenplay.keyword_tsquery(p_query, coalesce(p_language, 'en'));
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
        RAISE EXCEPTION 'p_limit must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tsq IS NULL THEN
        RETURN;
    END IF;
    IF screenplay.current_tenant_id() IS NOT NULL THEN
        RETURN QUERY
        WITH hits AS MATERIALIZED (
            SELECT k.id, k.score
            FROM screenplay.keyword_hits(p_workspace_id, tsq, p_limit, p_language, p_source_path_prefix,
                                         p_metadata) AS k
        )
        SELECT d.id, d.source_path, d.title, d.content, d.chunk_index, d.chunk_count, d.language, d.metadata,
               h.score, (row_number() OVER (ORDER BY h.score DESC, h.id))::integer
        FROM hits AS h JOIN screenplay.code_documents AS d ON d.id = h.id
        WHERE p_min_score IS NULL OR h.score >= p_min_score
        ORDER BY h.score DESC, h.id;
    ELSE
        RETURN QUERY
        WITH hits AS MATERIALIZED (
            SELECT d.id, ts_rank(d.search_vector, tsq, 1)::double precision AS score
            FROM screenplay.code_documents AS d
            WHERE d.workspace_id = p_workspace_id
              AND d.search_vector @@ tsq
              AND (p_language IS NULL OR d.language = p_language)
              AND (p_source_path_prefix IS NULL OR starts_with(d.source_path, p_source_path_prefix))
              AND (p_metadata IS NULL OR d.metadata @> p_metadata)
            ORDER BY 2 DESC, 1
            LIMIT p_limit
        )
        SELECT d.id, d.source_path, d.title, d.content, d.chunk_index, d.chunk_count, d.language, d.metadata,
               h.score, (row_number() OVER (ORDER BY h.score DESC, h.id))::integer
        FROM hits AS h JOIN screenplay.code_documents AS d ON d.id = h.id
        WHERE p_min_score IS NULL OR h.score >= p_min_score
        ORDER BY h.score DESC, h.id;
    END IF;
END
$$;

-- Hybrid search: each channel fetches its own candidates (default
-- max(50, p_limit), so changing p_limit does not reorder the top), then
-- fuses them by reciprocal rank fusion, score = sum of 1 / (p_rrf_k + rank),
-- or, when a weight is given, by weights: p_vector_weight * similarity +
-- p_keyword_weight * keyword score / best keyword score (a missing weight is
-- 1 minus the other). p_min_score applies to the fused score.
CREATE OR REPLACE FUNCTION screenplay.hybrid_search_documents(
    p_workspace_id       uuid,
    p_query_text         text,
    p_query_embedding    vector(1536),
    p_limit              integer DEFAULT 10,
    p_rrf_k              integer DEFAULT 60,
    p_vector_weight      double precision DEFAULT NULL,
    p_keyword_weight     double precision DEFAULT NULL,
    p_candidates         integer DEFAULT NULL,
    p_min_score          double precision DEFAULT NULL,
    p_embedding_model    text DEFAULT NULL,
    p_language           text DEFAULT NULL,
    p_source_path_prefix text DEFAULT NULL,
    p_metadata           jsonb DEFAULT NULL,
    p_ef_search          integer DEFAULT NULL
)
    RETURNS TABLE (
        id uuid, source_path text, title text, content text, chunk_index integer, chunk_count integer,
        language text, metadata jsonb, score double precision,
        vector_score double precision, vector_rank integer, keyword_score double precision, keyword_rank integer,
        rank integer
    )
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    candidates integer := coalesce(p_candidates, greatest(50, p_limit));
    weighted boolean := p_vector_weight IS NOT NULL OR p_keyword_weight IS NOT NULL;
    vw double precision := coalesce(p_vector_weight, greatest(0, 1 - p_keyword_weight));
    kw double precision := coalesce(p_keyword_weight, greatest(0, 1 - p_vector_weight));
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
        RAISE EXCEPTION 'p_limit must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF candidates < p_limit OR candidates > 1000 THEN
        RAISE EXCEPTION 'p_candidates must be between p_limit and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_rrf_k IS NULL OR p_rrf_k < 0 THEN
        RAISE EXCEPTION 'p_rrf_k must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF weighted AND (vw < 0 OR kw < 0 OR vw + kw = 0) THEN
        RAISE EXCEPTION 'weights must not be negative and not both zero' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH v AS (
        SELECT s.id, s.similarity, s.rank
        FROM screenplay.search_similar_documents(p_workspace_id, p_query_embedding, candidates, NULL,
                                                 p_embedding_model, p_language, p_source_path_prefix,
                                                 p_metadata, p_ef_search) AS s
    ),
    k AS (
        SELECT s.id, s.score, s.rank
        FROM screenplay.search_by_keywords(p_workspace_id, p_query_text, candidates, NULL,
                                           p_language, p_source_path_prefix, p_metadata) AS s
    ),
    best AS (SELECT max(k.score) AS score FROM k),
    fused AS (
        SELECT coalesce(v.id, k.id) AS id, v.similarity, v.rank AS vrank, k.score AS kscore, k.rank AS krank,
               CASE WHEN weighted THEN
                   vw * coalesce(v.similarity, 0) + kw * coalesce(k.score / nullif(best.score, 0), 0)
               ELSE
                   coalesce(1.0 / (p_rrf_k + v.rank), 0) + coalesce(1.0 / (p_rrf_k + k.rank), 0)
               END::double precision AS score
        FROM v FULL JOIN k ON v.id = k.id CROSS JOIN best
    ),
    top AS (
        SELECT f.*, (row_number() OVER (ORDER BY f.score DESC, f.id))::integer AS r
        FROM fused AS f
        WHERE p_min_score IS NULL OR f.score >= p_min_score
        ORDER BY f.score DESC, f.id
        LIMIT p_limit
    )
    SELECT d.id, d.source_path, d.title, d.content, d.chunk_index, d.chunk_count, d.language, d.metadata,
           t.score, t.similarity, t.vrank, t.kscore, t.krank, t.r
    FROM top AS t JOIN screenplay.code_documents AS d ON d.id = t.id
    ORDER BY t.r;
END
$$;

DROP FUNCTION screenplay.keyword_matches(uuid, uuid, text, integer, text, text, jsonb);
DROP INDEX screenplay.code_documents_title_phrase_idx;
ALTER TABLE screenplay.code_documents DROP COLUMN title_phrase;
DROP INDEX screenplay.code_documents_title_trgm_idx;
DROP FUNCTION screenplay.keyword_phrase(text, text);
DROP FUNCTION screenplay.phrase_pattern(text);
DROP FUNCTION screenplay.phrase_text(text);
DROP FUNCTION screenplay.phrase_separator();
CREATE OR REPLACE FUNCTION screenplay.cjk_ngrams(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(gram, ' ' ORDER BY run_no, pos, len), '')
    FROM (
        SELECT run_no, pos, len, substr(run, pos, len) AS gram
        FROM regexp_matches(coalesce(input, ''),
                            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', 'g')
             WITH ORDINALITY AS m(run_arr, run_no)
        CROSS JOIN LATERAL (SELECT m.run_arr[1] AS run) AS r
        CROSS JOIN LATERAL generate_series(1, char_length(r.run)) AS pos
        CROSS JOIN LATERAL (VALUES (1), (2)) AS l(len)
        WHERE pos + len - 1 <= char_length(r.run)
    ) AS grams
$$;

CREATE OR REPLACE FUNCTION screenplay.cjk_query_ngrams(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(gram, ' ' ORDER BY run_no, pos), '')
    FROM (
        SELECT run_no, pos,
               CASE WHEN char_length(r.run) = 1 THEN r.run ELSE substr(r.run, pos, 2) END AS gram
        FROM regexp_matches(coalesce(input, ''),
                            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', 'g')
             WITH ORDINALITY AS m(run_arr, run_no)
        CROSS JOIN LATERAL (SELECT m.run_arr[1] AS run) AS r
        CROSS JOIN LATERAL generate_series(1, greatest(char_length(r.run) - 1, 1)) AS pos
    ) AS grams
$$;
