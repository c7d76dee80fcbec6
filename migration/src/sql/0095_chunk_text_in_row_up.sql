-- A chunk's text and search vector stay in its row when they fit. The 6 KB
-- embedding (PLAIN since 0004) leaves each row alone on its heap page with
-- about 2 KB to spare, yet under the default EXTENDED storage PostgreSQL
-- still moved every other variable-length value of such a row to TOAST
-- (the row is over the 2 KB toast target whatever else it holds), so a
-- keyword search fetched each candidate's search vector, and the phrase
-- stage and the hits' rows each chunk's text, through the TOAST index.
-- MAIN keeps them in the page (compressed when that helps) and moves them
-- out only when the row would not fit its page, as a long chunk's do.
-- Rows written before keep their layout until they are rewritten
-- (`VACUUM FULL screenplay.code_documents`, or ingested again).
ALTER TABLE screenplay.code_documents
    ALTER COLUMN content SET STORAGE MAIN,
    ALTER COLUMN search_vector SET STORAGE MAIN;
