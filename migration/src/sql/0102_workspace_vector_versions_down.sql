DROP TRIGGER code_documents_truncated ON screenplay.code_documents;
DROP TRIGGER code_documents_vectors_deleted ON screenplay.code_documents;
DROP TRIGGER code_documents_vectors_updated ON screenplay.code_documents;
DROP TRIGGER code_documents_vectors_inserted ON screenplay.code_documents;
DROP FUNCTION screenplay.code_documents_truncated();
DROP FUNCTION screenplay.code_documents_vectors_changed();
DROP FUNCTION screenplay.bump_workspace_vector_versions(uuid[]);
DROP TABLE screenplay.workspace_vector_versions;
DROP FUNCTION screenplay.workspace_vector_version_written();
