DROP TABLE screenplay.retrieved_documents;
DROP TABLE screenplay.code_documents;
DROP FUNCTION screenplay.document_search_vector(text, text, text);
DROP FUNCTION screenplay.strip_cjk(text);
DROP FUNCTION screenplay.cjk_ngrams(text);
DROP FUNCTION screenplay.ts_config_for(text);
