-- A phrase query's words were parsed with all ten document configurations
-- when the search named no language (3 words: 30 parses; about 0.075 ms
-- of an English three-word search), though a chunk's search vector holds
-- only its own language's parses, and most workspaces hold one or two
-- languages.
-- The languages each workspace's chunks are in are now kept in
-- `workspace_languages`, written by triggers on `code_documents` in the
-- same transaction as the chunks, so a search sees
-- in its snapshot every language of the chunks it sees. Rows are never
-- removed: a language whose chunks are all gone is still parsed, which only
-- costs time (the needs then have an alternative more; the phrase's
-- patterns decide). Same outputs.
CREATE TABLE screenplay.workspace_languages (
    workspace_id uuid NOT NULL,
    language     text NOT NULL,
    tenant_id    uuid NOT NULL,
    PRIMARY KEY (workspace_id, language),
    CONSTRAINT workspace_languages_workspace_fkey FOREIGN KEY (tenant_id, workspace_id)
        REFERENCES screenplay.workspaces (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE screenplay.workspace_languages IS
    'The languages of a workspace''s chunks, ever (triggers on code_documents); keyword search parses a phrase in theirs.';
ALTER TABLE screenplay.workspace_languages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screenplay.workspace_languages TO screenplay_app
    USING (tenant_id = (SELECT screenplay.current_tenant_id()));
CREATE POLICY platform_access ON screenplay.workspace_languages TO screenplay_platform USING (true);
REVOKE ALL ON screenplay.workspace_languages FROM PUBLIC;
GRANT SELECT ON screenplay.workspace_languages TO screenplay_app, screenplay_platform;

-- A language a workspace has already is not written again: what a
-- data-only restore copies in after the chunks' triggers wrote theirs.
CREATE FUNCTION screenplay.workspace_language_written()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM screenplay.workspace_languages AS l
               WHERE l.workspace_id = NEW.workspace_id AND l.language = NEW.language) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION screenplay.workspace_language_written() FROM PUBLIC;
CREATE TRIGGER workspace_language_written BEFORE INSERT ON screenplay.workspace_languages
    FOR EACH ROW EXECUTE FUNCTION screenplay.workspace_language_written();

INSERT INTO screenplay.workspace_languages (workspace_id, language, tenant_id)
SELECT DISTINCT d.workspace_id, d.language, d.tenant_id FROM screenplay.code_documents AS d;

-- The languages of the chunks a statement inserted, or of a chunk whose
-- language or workspace an update changed (a row trigger with a WHEN
-- condition: the updates of a chunk's status or text run nothing). A first
-- chunk of a language in a workspace written by two transactions at once:
-- the second waits for the first's commit, then finds its row.
CREATE FUNCTION screenplay.code_documents_languages_written()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        INSERT INTO screenplay.workspace_languages (workspace_id, language, tenant_id)
        VALUES (NEW.workspace_id, NEW.language, NEW.tenant_id)
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO screenplay.workspace_languages (workspace_id, language, tenant_id)
        SELECT DISTINCT n.workspace_id, n.language, n.tenant_id FROM new_rows AS n
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION screenplay.code_documents_languages_written() FROM PUBLIC;
CREATE TRIGGER code_documents_languages_inserted AFTER INSERT ON screenplay.code_documents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION screenplay.code_documents_languages_written();
CREATE TRIGGER code_documents_languages_updated AFTER UPDATE OF language, workspace_id ON screenplay.code_documents
    FOR EACH ROW
    WHEN (OLD.language IS DISTINCT FROM NEW.language OR OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
    EXECUTE FUNCTION screenplay.code_documents_languages_written();

DROP FUNCTION screenplay.keyword_phrase(text, text, tsquery);

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
-- `adjacent` (0097) says where those parses must stand in a chunk's search
-- vector for a segment to be in its text: the words of a segment of two or
-- more ASCII words one after another (`<->`), the character pairs of a
-- segment of three or more CJK characters two positions apart (`<2>`, each
-- character and each pair having a position of their own). A segment of
-- other words (a stop word, digits, apostrophes, other scripts) adds no
-- condition. A chunk whose search vector misses `adjacent` cannot hold every
-- segment, so its patterns need not run. `wider` (0098) is what of the
-- needs a chunk can meet without holding any of the query's words
-- (`keyword_tsquery`): each word's parses that are not among them, and the
-- CJK pairs unless one is; NULL when every chunk meeting the needs holds one
-- of the words. `p_words` (0099) is the query's words as keyword search
-- looks them up (`keyword_tsquery`), from a caller that has them already.
-- `p_configs` (0104) are the configurations of the languages the searched
-- chunks may be in, when `p_language` names none (all ten when NULL or
-- empty): a chunk's search vector holds only its own language's parses.
CREATE FUNCTION screenplay.keyword_phrase(
    p_query text, p_language text, p_words tsquery DEFAULT NULL, p_configs regconfig[] DEFAULT NULL,
    OUT title text, OUT whole text, OUT segments text[], OUT lead text, OUT needs tsquery,
    OUT adjacent tsquery, OUT wider tsquery
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
    parts text[] := '{}';
    single_words text[];
    single_alternatives text[];
    -- the words' lexemes, as keyword search looks them up (`p_words`)
    any_word tsquery;
    words_rest text;
    covered boolean;
    cjk tsquery;
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
        parts := parts || part;
        IF lead IS NULL OR char_length(part) > char_length(lead) THEN
            lead := part;
        END IF;
    END LOOP;
    lead := screenplay.phrase_pattern(lead);
    any_word := coalesce(p_words, screenplay.keyword_tsquery(p_query, coalesce(p_language, 'en')));
    configs := CASE WHEN p_language IS NOT NULL THEN ARRAY[screenplay.ts_config_for(p_language)]
                    WHEN cardinality(p_configs) > 0 THEN p_configs
                    ELSE ARRAY['pg_catalog.english', 'pg_catalog.german', 'pg_catalog.french',
                               'pg_catalog.spanish', 'pg_catalog.italian', 'pg_catalog.portuguese',
                               'pg_catalog.dutch', 'pg_catalog.russian', 'pg_catalog.swedish',
                               'pg_catalog.simple']::regconfig[] END;
    -- Each word parsed once for both conditions; `single`: an ASCII word
    -- every configuration parses to one lexeme.
    -- `rest`: the parses not among the query's words (a chunk holding one of
    -- those holds a word); none left covers the needs.
    SELECT string_agg(w.alternatives, ' & ') FILTER (WHERE w.every_config),
           string_agg(w.rest, ' & ') FILTER (WHERE w.every_config),
           coalesce(bool_or(w.every_config AND w.rest IS NULL), false),
           array_agg(w.word) FILTER (WHERE w.single), array_agg(w.alternatives) FILTER (WHERE w.single)
      INTO words, words_rest, covered, single_words, single_alternatives
    FROM (
        SELECT p.word, '(' || string_agg(p.alt, ' | ' ORDER BY p.alt) || ')' AS alternatives,
               '(' || string_agg(p.alt, ' | ' ORDER BY p.alt)
                          FILTER (WHERE p.parsed <> '' AND NOT coalesce(any_word @> p.parsed::tsquery, false))
                   || ')' AS rest,
               bool_and(p.parsed <> '') AS every_config,
               bool_and(p.parsed ~ '^''[a-z]+''$') AS single
        FROM (
            SELECT DISTINCT t.word, q.parsed, '(' || q.parsed || ')' AS alt
            FROM unnest(regexp_split_to_array(title, ' ')) AS t(word)
            CROSS JOIN unnest(configs) AS c(config)
            CROSS JOIN LATERAL (SELECT plainto_tsquery(c.config, t.word)::text AS parsed) AS q
            WHERE t.word ~ ('^' || letters || '(''' || letters || ')*$')
        ) AS p
        GROUP BY p.word
    ) AS w;
    cjk := plainto_tsquery('pg_catalog.simple', screenplay.cjk_query_ngrams(query));
    needs := cjk;
    IF words IS NOT NULL THEN
        needs := CASE WHEN numnode(needs) = 0 THEN words::tsquery ELSE needs && words::tsquery END;
    END IF;
    IF numnode(needs) = 0 THEN
        needs := NULL;
    END IF;
    -- The query's CJK pairs are among its words' lexemes too.
    covered := covered OR (numnode(cjk) > 0 AND coalesce(any_word @> cjk, false));
    IF needs IS NOT NULL AND NOT covered THEN
        wider := CASE WHEN numnode(cjk) = 0 THEN words_rest::tsquery
                      WHEN words_rest IS NULL THEN cjk
                      ELSE cjk && words_rest::tsquery END;
    END IF;
    -- Where the parses must stand: ASCII words one after another, the pairs
    -- of CJK characters two positions apart. A segment holding any other
    -- word adds no condition.
    SELECT string_agg('(' || s.chain || ')', ' & ')::tsquery INTO adjacent
    FROM (
        SELECT string_agg(a.alternatives, ' <-> ' ORDER BY t.pos) AS chain
        FROM unnest(parts) WITH ORDINALITY AS p(part, no)
        CROSS JOIN LATERAL unnest(regexp_split_to_array(p.part, ' ')) WITH ORDINALITY AS t(word, pos)
        LEFT JOIN unnest(single_words, single_alternatives) AS a(word, alternatives) ON a.word = t.word
        WHERE p.part ~ '^[a-z]+( [a-z]+)+$'
        GROUP BY p.no
        HAVING bool_and(a.word IS NOT NULL)
        UNION ALL
        SELECT string_agg(quote_literal(g.pair), ' <2> ' ORDER BY g.pos)
        FROM unnest(parts) WITH ORDINALITY AS p(part, no)
        CROSS JOIN LATERAL (
            SELECT c.pos, c.ch || lead(c.ch) OVER (ORDER BY c.pos) AS pair
            FROM unnest(string_to_array(p.part, NULL)) WITH ORDINALITY AS c(ch, pos)
        ) AS g
        WHERE p.part ~ ('^' || cjk_char || '{3,}$') AND g.pair IS NOT NULL
        GROUP BY p.no
    ) AS s;
END
$$;

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
    -- the configurations of the workspace's languages (`workspace_languages`)
    configs regconfig[];
    ph record;
BEGIN
    IF p_language IS NULL THEN
        configs := ARRAY(SELECT DISTINCT screenplay.ts_config_for(l.language)
                         FROM screenplay.workspace_languages AS l
                         WHERE l.workspace_id = p_workspace_id AND (p_tenant IS NULL OR l.tenant_id = p_tenant));
    END IF;
    SELECT * INTO ph FROM screenplay.keyword_phrase(p_query, p_language, tsq, configs);
    RETURN QUERY
    -- The workspace's chunks. Only READY ones are searchable; their search
    -- vector is NULL otherwise (a generated column, 0091), so whatever
    -- matches it is READY and only `by_title` checks the status.
    WITH scope AS NOT MATERIALIZED (
        SELECT d.id, d.title, d.title_phrase, d.content, d.search_vector, d.status
        FROM screenplay.code_documents AS d
        WHERE (p_tenant IS NULL OR d.tenant_id = p_tenant)
          AND d.workspace_id = p_workspace_id
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
        SELECT s.id, 0 AS exact FROM scope AS s
        WHERE ph.title <> '' AND s.title_phrase = ph.title AND s.status = 'READY'
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
