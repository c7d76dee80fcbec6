-- Back to 0092's keyword_matches: a row's search vector read once per test of it,
-- the phrase stage reading each candidate's text through a second lookup.
-- Keyword matches of a workspace, best first, scored as above: the best
-- `p_limit` by words and CJK pairs (ts_rank), by phrase and by title each,
-- then all of them scored together. p_tenant NULL searches every tenant the
-- caller may see (row-level security applies to the caller).
CREATE OR REPLACE FUNCTION screenplay.keyword_matches(
    p_tenant uuid, p_workspace_id uuid, p_query text, p_limit integer,
    p_language text, p_source_path_prefix text, p_metadata jsonb
)
    RETURNS TABLE (id uuid, score double precision)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tsq tsquery := screenplay.keyword_tsquery(p_query, coalesce(p_language, 'en'));
    ph record;
BEGIN
    SELECT * INTO ph FROM screenplay.keyword_phrase(p_query, p_language);
    RETURN QUERY
    WITH scope AS NOT MATERIALIZED (
        SELECT d.id, d.title, d.title_phrase, d.content, d.search_vector
        FROM screenplay.code_documents AS d
        WHERE (p_tenant IS NULL OR d.tenant_id = p_tenant)
          AND d.workspace_id = p_workspace_id
          AND d.status = 'READY'
          AND (p_language IS NULL OR d.language = p_language)
          AND (p_source_path_prefix IS NULL OR starts_with(d.source_path, p_source_path_prefix))
          AND (p_metadata IS NULL OR d.metadata @> p_metadata)
    ),
    -- One pass over the workspace's chunks that hold the query's words or
    -- what its phrase needs (the search vector's GIN index with the
    -- workspace's btree): the words stage ranks them, the phrase stage
    -- checks its patterns on those that meet its needs.
    -- (A row's search vector is read once per test of it: ts_rank > 0 says
    -- it holds a word, and the needs are tested only when there are some.)
    matched AS MATERIALIZED (
        SELECT s.id, coalesce(ts_rank(s.search_vector, tsq, 1), 0) AS rank,
               ph.needs IS NOT NULL AND s.search_vector @@ ph.needs AS meets_needs
        FROM scope AS s
        WHERE s.search_vector @@ tsq OR s.search_vector @@ ph.needs
    ),
    by_words AS (
        SELECT m.id, 0 AS exact FROM matched AS m WHERE m.rank > 0
        ORDER BY m.rank DESC, m.id LIMIT p_limit
    ),
    -- Chunks holding every segment (1), the whole query among them (2), the
    -- most exact first: a chunk cut off here ranks below all that are kept.
    -- A phrase that needs nothing (stop words only) is looked up through
    -- the trigram indexes instead.
    by_phrase AS (
        SELECT c.id,
               CASE WHEN cardinality(ph.segments) = 1 OR c.content ~* ph.whole OR c.title ~* ph.whole
                    THEN 2 ELSE 1 END AS exact
        FROM (
            SELECT d.id, d.title, d.content, m.rank
            FROM matched AS m JOIN screenplay.code_documents AS d ON d.id = m.id
            WHERE m.meets_needs
            UNION ALL
            SELECT t.id, t.title, t.content, coalesce(ts_rank(t.search_vector, tsq, 1), 0)
            FROM scope AS t
            WHERE ph.lead IS NOT NULL AND ph.needs IS NULL AND t.search_vector IS NOT NULL
              AND (t.content ~* ph.lead OR t.title ~* ph.lead)
        ) AS c
        WHERE ph.segments IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM unnest(ph.segments) AS g(p) WHERE c.content !~* g.p AND c.title !~* g.p)
        ORDER BY 2 DESC, c.rank DESC, c.id LIMIT p_limit
    ),
    by_title AS (
        SELECT s.id, 0 AS exact FROM scope AS s WHERE ph.title <> '' AND s.title_phrase = ph.title
        ORDER BY s.id LIMIT p_limit
    ),
    found AS (
        SELECT f.id, max(f.exact) AS exact
        FROM (SELECT * FROM by_words UNION ALL SELECT * FROM by_phrase UNION ALL SELECT * FROM by_title) AS f
        GROUP BY f.id
    )
    SELECT d.id,
           (f.exact + CASE WHEN d.title_phrase = ph.title THEN 2 ELSE 0 END
            + least(coalesce(ts_rank(d.search_vector, tsq, 1), 0), 0.999))::double precision
    FROM found AS f JOIN screenplay.code_documents AS d ON d.id = f.id
    ORDER BY 2 DESC, 1
    LIMIT p_limit;
END
$$;
