-- Back to 0099: every chunk of the scope checked for READY.

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
    SELECT * INTO ph FROM screenplay.keyword_phrase(p_query, p_language, tsq);
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
    -- The workspace's chunks holding the query's words or what its phrase
    -- needs (the GIN index with the workspace's btree), each with its words
    -- rank and, when it meets the needs, how exactly it holds the phrase:
    -- NULL (not every segment), 1 (every segment), 2 (the whole query).
    -- `|| ''` makes the one in-memory copy the tests below share, where a
    -- bare column would be fetched from TOAST (or decompressed) by each of
    -- them; a search vector small enough to be stored plainly in its row
    -- (all of a short chunk's) is read in place, since copying it cost
    -- more than the tests.
    matched AS MATERIALIZED (
        SELECT s.id, v.rank,
               -- Positions above 16383 are all stored as 16383, so the
               -- adjacency of a chunk that long says nothing (a position
               -- takes at least a byte of its text).
               CASE WHEN v.meets_needs
                         AND (ph.adjacent IS NULL OR v.sv @@ ph.adjacent
                              OR octet_length(s.title) + octet_length(s.content) > 16000) THEN (
                   SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM unnest(ph.segments) AS g(p)
                                                WHERE t.content !~* g.p AND t.title !~* g.p)
                               THEN CASE WHEN cardinality(ph.segments) = 1 OR t.content ~* ph.whole
                                              OR t.title ~* ph.whole THEN 2 ELSE 1 END END
                   FROM (SELECT s.content || '' AS content, s.title || '' AS title OFFSET 0) AS t)
               END AS phrase
        FROM scope AS s
        CROSS JOIN LATERAL (
            SELECT coalesce(ts_rank(x.sv, tsq, 1), 0) AS rank,
                   ph.needs IS NOT NULL AND ph.segments IS NOT NULL AND x.sv @@ ph.needs AS meets_needs,
                   x.sv
            FROM (SELECT CASE WHEN pg_column_size(s.search_vector) > 2000 THEN s.search_vector || ''::tsvector
                              ELSE s.search_vector END AS sv OFFSET 0) AS x
        ) AS v
        -- (the same chunks as `@@ tsq OR @@ ph.needs`; `wider` NULL finds
        -- nothing without reading the index)
        WHERE s.search_vector @@ tsq OR s.search_vector @@ ph.wider
    ),
    by_words AS (
        SELECT m.id, 0 AS exact FROM matched AS m WHERE m.rank > 0
        ORDER BY m.rank DESC, m.id LIMIT p_limit
    ),
    -- The most exact first: a chunk cut off here ranks below all that are
    -- kept. A phrase that needs nothing (stop words only) is looked up
    -- through the trigram indexes instead.
    by_phrase AS (
        SELECT c.id, c.exact
        FROM (
            SELECT m.id, m.phrase AS exact, m.rank FROM matched AS m WHERE m.phrase IS NOT NULL
            UNION ALL
            SELECT t.id,
                   CASE WHEN cardinality(ph.segments) = 1 OR t.content ~* ph.whole OR t.title ~* ph.whole
                        THEN 2 ELSE 1 END,
                   coalesce(ts_rank(t.search_vector, tsq, 1), 0)
            FROM scope AS t
            WHERE ph.lead IS NOT NULL AND ph.needs IS NULL AND ph.segments IS NOT NULL
              AND t.search_vector IS NOT NULL
              AND (t.content ~* ph.lead OR t.title ~* ph.lead)
              AND NOT EXISTS (SELECT 1 FROM unnest(ph.segments) AS g(p)
                              WHERE t.content !~* g.p AND t.title !~* g.p)
        ) AS c
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
