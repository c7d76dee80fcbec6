-- Keyword ranking that puts exact spans first. A keyword score is now
-- `exactness + ts_rank` (ts_rank capped below 1), and its whole part says
-- how exactly the chunk matches the query:
--   4  the title is the query (a query of two or more words or CJK characters)
--   2  the whole query appears as a phrase, or the title is a one-word query
--   1  every segment of the query appears as a phrase, not the whole
--   0  only some of its words or CJK character pairs
-- A phrase is matched word by word in order, case-insensitively, across any
-- run of whitespace and punctuation, with typographic apostrophes equal to
-- ASCII ones; stop words count. The query's segments are its parts between
-- punctuation (and between spaces when it holds CJK text: Chinese separates
-- phrases, not words, with them). Hybrid search orders by this whole part
-- before fusing, so no fusion pushes an exact match below a partial one.

-- Character n-grams in linear time: the runs' characters are split once
-- (string_to_array) and paired with their successor (lead), where the
-- first versions took substr() at every position, which rescans a
-- multibyte run from its start: quadratic, 0.65 s for a 10,000-character
-- query. Same output.
CREATE OR REPLACE FUNCTION screenplay.cjk_ngrams(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(CASE l.len WHEN 1 THEN c.ch ELSE c.ch || c.next END, ' '
                               ORDER BY c.run_no, c.pos, l.len), '')
    FROM (
        SELECT m.run_no, u.pos, u.ch, lead(u.ch) OVER (PARTITION BY m.run_no ORDER BY u.pos) AS next
        FROM regexp_matches(coalesce(input, ''),
                            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', 'g')
             WITH ORDINALITY AS m(run_arr, run_no)
        CROSS JOIN LATERAL unnest(string_to_array(m.run_arr[1], NULL)) WITH ORDINALITY AS u(ch, pos)
    ) AS c
    CROSS JOIN (VALUES (1), (2)) AS l(len)
    WHERE l.len = 1 OR c.next IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION screenplay.cjk_query_ngrams(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(CASE WHEN c.run_len = 1 THEN c.ch ELSE c.ch || c.next END, ' '
                               ORDER BY c.run_no, c.pos), '')
    FROM (
        SELECT m.run_no, u.pos, u.ch, lead(u.ch) OVER (PARTITION BY m.run_no ORDER BY u.pos) AS next,
               count(*) OVER (PARTITION BY m.run_no) AS run_len
        FROM regexp_matches(coalesce(input, ''),
                            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', 'g')
             WITH ORDINALITY AS m(run_arr, run_no)
        CROSS JOIN LATERAL unnest(string_to_array(m.run_arr[1], NULL)) WITH ORDINALITY AS u(ch, pos)
    ) AS c
    WHERE c.run_len = 1 OR c.next IS NOT NULL
$$;

-- Whitespace and punctuation (ASCII, Latin-1, general and CJK punctuation,
-- fullwidth forms), apostrophes excepted: they belong to words.
CREATE FUNCTION screenplay.phrase_separator() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '[\s\u0021-\u0026\u0028-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e\u00a0-\u00bf'
           '\u2000-\u2017\u201a-\u206f\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]'
$$;

-- A text as phrases compare it: lower case, apostrophes ASCII, every run of
-- separators (and quoting apostrophes) one space, trimmed.
CREATE FUNCTION screenplay.phrase_text(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT btrim(regexp_replace(regexp_replace(
        regexp_replace(translate(lower(coalesce(input, '')), '‘’ʼ', ''''''''),
                       screenplay.phrase_separator() || '+', ' ', 'g'),
        -- apostrophes that open or close a quotation are not part of a word
        '(^| )''+|''+( |$)', ' ', 'g'), ' +', ' ', 'g'))
$$;

-- The case-insensitive pattern (for ~*) of a phrase given as phrase_text:
-- its words in order with separators between them, apostrophes of any kind,
-- and word boundaries at ends that are ASCII letters or digits.
CREATE FUNCTION screenplay.phrase_pattern(phrase text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN phrase ~ '^[0-9a-z]' THEN '(^|[^0-9A-Za-z])' ELSE '' END
        || replace(replace(regexp_replace(phrase, '([][\\.^$*+?(){}|-])', '\\\1', 'g'),
                           '''', '[''‘’ʼ]'),
                   ' ', screenplay.phrase_separator() || '+')
        || CASE WHEN phrase ~ '[0-9a-z]$' THEN '($|[^0-9A-Za-z])' ELSE '' END
$$;

-- What the phrase stage of a keyword search looks for in a query:
-- `title` its phrase_text (a title equal to it is the best match), `whole`
-- the pattern of the whole query and `segments` those of its segments (both
-- NULL unless the query has two or more words or CJK characters and at most
-- 200 characters), `lead` the longest segment's pattern (what the trigram
-- indexes look up when the phrase needs nothing), and `needs` what
-- every chunk holding all segments has in its search vector: each CJK
-- character pair, and each word (letters only) as one of the document
-- languages' configurations (`p_language`'s, or all of them) parses it. A
-- word some configuration drops (a stop word) needs nothing; a phrase of
-- such words only needs nothing, and is looked up by trigrams instead.
CREATE FUNCTION screenplay.keyword_phrase(
    p_query text, p_language text,
    OUT title text, OUT whole text, OUT segments text[], OUT lead text, OUT needs tsquery
)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    -- plainto_tsquery reports every stop word with a NOTICE to the client
    SET client_min_messages = warning
AS $$
DECLARE
    cjk_char constant text := '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]';
    punctuation constant text := replace(screenplay.phrase_separator(), '\s', '');
    letters constant text := '[a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+';
    query text := left(coalesce(p_query, ''), 10000);
    configs regconfig[];
    words text;
    part text;
BEGIN
    title := screenplay.phrase_text(query);
    -- One word is no phrase; a long query is a description, not a line,
    -- and its patterns would cost more than they tell.
    IF char_length(title) > 200 OR (title !~ ' ' AND title !~ (cjk_char || '.*' || cjk_char)) THEN
        IF char_length(title) > 500 THEN
            title := NULL;  -- longer than any title
        END IF;
        RETURN;
    END IF;
    whole := screenplay.phrase_pattern(title);
    segments := '{}';
    FOREACH part IN ARRAY regexp_split_to_array(query, CASE WHEN query ~ cjk_char
                                                             THEN screenplay.phrase_separator() || '+'
                                                             ELSE punctuation || '+' END) LOOP
        part := screenplay.phrase_text(part);
        CONTINUE WHEN part = '';
        segments := segments || screenplay.phrase_pattern(part);
        IF lead IS NULL OR char_length(part) > char_length(lead) THEN
            lead := part;
        END IF;
    END LOOP;
    lead := screenplay.phrase_pattern(lead);
    configs := CASE WHEN p_language IS NOT NULL THEN ARRAY[screenplay.ts_config_for(p_language)]
                    ELSE ARRAY['pg_catalog.english', 'pg_catalog.german', 'pg_catalog.french',
                               'pg_catalog.spanish', 'pg_catalog.italian', 'pg_catalog.portuguese',
                               'pg_catalog.dutch', 'pg_catalog.russian', 'pg_catalog.swedish',
                               'pg_catalog.simple']::regconfig[] END;
    SELECT string_agg(w.alternatives, ' & ') INTO words
    FROM (
        SELECT '(' || string_agg(DISTINCT '(' || q.parsed || ')', ' | ') || ')' AS alternatives,
               bool_and(q.parsed <> '') AS every_config
        FROM unnest(regexp_split_to_array(title, ' ')) AS t(word)
        CROSS JOIN unnest(configs) AS c(config)
        CROSS JOIN LATERAL (SELECT plainto_tsquery(c.config, t.word)::text AS parsed) AS q
        WHERE t.word ~ ('^' || letters || '(''' || letters || ')*$')
        GROUP BY t.word
    ) AS w
    WHERE w.every_config;
    needs := plainto_tsquery('pg_catalog.simple', screenplay.cjk_query_ngrams(query));
    IF words IS NOT NULL THEN
        needs := CASE WHEN numnode(needs) = 0 THEN words::tsquery ELSE needs && words::tsquery END;
    END IF;
    IF numnode(needs) = 0 THEN
        needs := NULL;
    END IF;
END
$$;

-- Phrase matches of titles come through their own trigram index (contents
-- have had one since the first migration); equal titles through a btree on
-- the title as phrases compare it, kept in a column so that a search does
-- not plan (or evaluate per row) the expression.
CREATE INDEX code_documents_title_trgm_idx ON screenplay.code_documents USING gin (title gin_trgm_ops);
ALTER TABLE screenplay.code_documents
    ADD COLUMN title_phrase text GENERATED ALWAYS AS (screenplay.phrase_text(title)) STORED;
CREATE INDEX code_documents_title_phrase_idx ON screenplay.code_documents (workspace_id, title_phrase);

-- Keyword matches of a workspace, best first, scored as above: the best
-- `p_limit` by words and CJK pairs (ts_rank), by phrase and by title each,
-- then all of them scored together. p_tenant NULL searches every tenant the
-- caller may see (row-level security applies to the caller).
CREATE FUNCTION screenplay.keyword_matches(
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

-- Keyword matches inside the transaction's tenant (app.tenant_id), best
-- first. PostgreSQL cannot use the GIN indexes for `@@` or `~*` under
-- row-level security (the operators are not leakproof), so a search by the
-- server's role would read every row of the workspace; this function runs
-- as the owner, uses the indexes, and filters by the tenant itself: without
-- a tenant it finds nothing.
DROP FUNCTION screenplay.keyword_hits(uuid, tsquery, integer, text, text, jsonb);
CREATE FUNCTION screenplay.keyword_hits(
    p_workspace_id uuid, p_query text, p_limit integer,
    p_language text, p_source_path_prefix text, p_metadata jsonb
)
    RETURNS TABLE (id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := screenplay.current_tenant_id();
BEGIN
    IF tenant IS NOT NULL THEN
        RETURN QUERY SELECT m.id, m.score
        FROM screenplay.keyword_matches(tenant, p_workspace_id, p_query, p_limit,
                                        p_language, p_source_path_prefix, p_metadata) AS m;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION screenplay.keyword_hits(uuid, text, integer, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screenplay.keyword_hits(uuid, text, integer, text, text, jsonb)
    TO screenplay_app, screenplay_platform;

-- Keyword search: chunks of a workspace matching any word (stemmed under the
-- language's configuration; English when p_language is NULL) or CJK bigram of
-- the query, or the query as a phrase, ranked as keyword_matches says. In a
-- tenant transaction the matches come from keyword_hits; without one (the
-- DBA in psql, platform work) from keyword_matches as the caller,
-- row-level security applying.
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
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
        RAISE EXCEPTION 'p_limit must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH hits AS MATERIALIZED (
        SELECT k.id, k.score
        FROM screenplay.keyword_hits(p_workspace_id, p_query, p_limit, p_language, p_source_path_prefix,
                                     p_metadata) AS k
        UNION ALL
        SELECT k.id, k.score
        FROM screenplay.keyword_matches(NULL, p_workspace_id, p_query, p_limit, p_language,
                                        p_source_path_prefix, p_metadata) AS k
        WHERE screenplay.current_tenant_id() IS NULL
    )
    SELECT d.id, d.source_path, d.title, d.content, d.chunk_index, d.chunk_count, d.language, d.metadata,
           h.score, (row_number() OVER (ORDER BY h.score DESC, h.id))::integer
    FROM hits AS h JOIN screenplay.code_documents AS d ON d.id = h.id
    WHERE p_min_score IS NULL OR h.score >= p_min_score
    ORDER BY h.score DESC, h.id;
END
$$;

-- Hybrid search: each channel fetches its own candidates (default
-- max(50, p_limit), so changing p_limit does not reorder the top), then
-- fuses them by reciprocal rank fusion, score = sum of 1 / (p_rrf_k + rank),
-- or, when a weight is given, by weights: p_vector_weight * similarity +
-- p_keyword_weight * keyword score / best keyword score (a missing weight is
-- 1 minus the other). p_min_score applies to the fused score. Hits the
-- keyword channel found exactly (the whole part of their keyword score, see
-- keyword_matches) come first, the most exact first, each tier in fused order.
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
        SELECT f.*, (row_number() OVER (ORDER BY coalesce(floor(f.kscore), 0) DESC, f.score DESC, f.id))::integer AS r
        FROM fused AS f
        WHERE p_min_score IS NULL OR f.score >= p_min_score
        ORDER BY coalesce(floor(f.kscore), 0) DESC, f.score DESC, f.id
        LIMIT p_limit
    )
    SELECT d.id, d.source_path, d.title, d.content, d.chunk_index, d.chunk_count, d.language, d.metadata,
           t.score, t.similarity, t.vrank, t.kscore, t.krank, t.r
    FROM top AS t JOIN screenplay.code_documents AS d ON d.id = t.id
    ORDER BY t.r;
END
$$;

