//! sea-orm entities of schema `screenplay`: one module per table, the
//! relations between them, and the status enums the CHECK constraints allow.

pub mod audit_logs;
pub mod code_documents;
pub mod enums;
pub mod execution_logs;
pub mod fragment_versions;
pub mod ingestion_jobs;
pub mod llm_call_logs;
pub mod outline_steps;
pub mod quota_usage;
pub mod refresh_tokens;
pub mod retrieved_documents;
pub mod screenplay_fragments;
pub mod screenplay_sessions;
pub mod tenants;
pub mod users;
pub mod workspaces;
