ALTER TABLE screenplay.code_documents
    ALTER COLUMN content SET STORAGE EXTENDED,
    ALTER COLUMN search_vector SET STORAGE EXTENDED;
