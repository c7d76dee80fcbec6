//! Schema migrations for the `screenplay` schema.
//!
//! Each migration is a pair of plain SQL files under `src/sql/`, readable by a
//! DBA without Rust: PostgreSQL features such as partitioning, row-level
//! security, HNSW indexes and PL/pgSQL functions are clearer in SQL than in a
//! query builder. Every migration runs in one transaction and has a down step.

pub use sea_orm_migration::prelude::*;

mod sql_migration;

use sql_migration::SqlMigration;

/// Orders the migrations; `screenplay migrate` and the server use it.
pub struct Migrator;

/// Every migration, oldest first: (name, up SQL, down SQL).
const MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "m20261128_000001_schema",
        include_str!("sql/0001_schema_up.sql"),
        include_str!("sql/0001_schema_down.sql"),
    ),
    (
        "m20261128_000002_core_tables",
        include_str!("sql/0002_core_tables_up.sql"),
        include_str!("sql/0002_core_tables_down.sql"),
    ),
    (
        "m20261128_000003_screenplay_tables",
        include_str!("sql/0003_screenplay_tables_up.sql"),
        include_str!("sql/0003_screenplay_tables_down.sql"),
    ),
    (
        "m20261128_000004_documents",
        include_str!("sql/0004_documents_up.sql"),
        include_str!("sql/0004_documents_down.sql"),
    ),
    (
        "m20261128_000005_log_tables",
        include_str!("sql/0005_log_tables_up.sql"),
        include_str!("sql/0005_log_tables_down.sql"),
    ),
    (
        "m20261128_000006_row_level_security",
        include_str!("sql/0006_row_level_security_up.sql"),
        include_str!("sql/0006_row_level_security_down.sql"),
    ),
    (
        "m20261129_000010_session_events",
        include_str!("sql/0010_session_events_up.sql"),
        include_str!("sql/0010_session_events_down.sql"),
    ),
    (
        "m20261129_000011_session_list_indexes",
        include_str!("sql/0011_session_list_indexes_up.sql"),
        include_str!("sql/0011_session_list_indexes_down.sql"),
    ),
    (
        "m20261129_000020_document_search",
        include_str!("sql/0020_document_search_up.sql"),
        include_str!("sql/0020_document_search_down.sql"),
    ),
    (
        "m20261129_000030_monitoring",
        include_str!("sql/0030_monitoring_up.sql"),
        include_str!("sql/0030_monitoring_down.sql"),
    ),
    (
        "m20261129_000031_maintenance",
        include_str!("sql/0031_maintenance_up.sql"),
        include_str!("sql/0031_maintenance_down.sql"),
    ),
    (
        "m20261129_000040_request_limits",
        include_str!("sql/0040_request_limits_up.sql"),
        include_str!("sql/0040_request_limits_down.sql"),
    ),
    (
        "m20261129_000041_tenant_policy_once",
        include_str!("sql/0041_tenant_policy_once_up.sql"),
        include_str!("sql/0041_tenant_policy_once_down.sql"),
    ),
    (
        "m20261129_000050_audit_logs_no_tenant_lock",
        include_str!("sql/0050_audit_logs_no_tenant_lock_up.sql"),
        include_str!("sql/0050_audit_logs_no_tenant_lock_down.sql"),
    ),
    (
        "m20261204_000060_owner_outside_row_security",
        include_str!("sql/0060_owner_outside_row_security_up.sql"),
        include_str!("sql/0060_owner_outside_row_security_down.sql"),
    ),
    (
        "m20261204_000070_principals",
        include_str!("sql/0070_principals_up.sql"),
        include_str!("sql/0070_principals_down.sql"),
    ),
    (
        "m20261205_000071_session_events",
        include_str!("sql/0071_session_events_up.sql"),
        include_str!("sql/0071_session_events_down.sql"),
    ),
    (
        "m20261205_000080_workspace_search_size",
        include_str!("sql/0080_workspace_search_size_up.sql"),
        include_str!("sql/0080_workspace_search_size_down.sql"),
    ),
    (
        "m20261205_000081_embedding_model_check_probes",
        include_str!("sql/0081_embedding_model_check_probes_up.sql"),
        include_str!("sql/0081_embedding_model_check_probes_down.sql"),
    ),
    (
        "m20261206_000090_document_sources",
        include_str!("sql/0090_document_sources_up.sql"),
        include_str!("sql/0090_document_sources_down.sql"),
    ),
    (
        "m20261206_000091_ingestion_jobs",
        include_str!("sql/0091_ingestion_jobs_up.sql"),
        include_str!("sql/0091_ingestion_jobs_down.sql"),
    ),
    (
        "m20261206_000092_phrase_ranking",
        include_str!("sql/0092_phrase_ranking_up.sql"),
        include_str!("sql/0092_phrase_ranking_down.sql"),
    ),
    (
        "m20261206_000093_vector_outbox",
        include_str!("sql/0093_vector_outbox_up.sql"),
        include_str!("sql/0093_vector_outbox_down.sql"),
    ),
    (
        "m20261207_000094_keyword_one_pass",
        include_str!("sql/0094_keyword_one_pass_up.sql"),
        include_str!("sql/0094_keyword_one_pass_down.sql"),
    ),
    (
        "m20261207_000095_chunk_text_in_row",
        include_str!("sql/0095_chunk_text_in_row_up.sql"),
        include_str!("sql/0095_chunk_text_in_row_down.sql"),
    ),
    (
        "m20261207_000096_caller_by_index",
        include_str!("sql/0096_caller_by_index_up.sql"),
        include_str!("sql/0096_caller_by_index_down.sql"),
    ),
    (
        "m20261207_000097_phrase_adjacency",
        include_str!("sql/0097_phrase_adjacency_up.sql"),
        include_str!("sql/0097_phrase_adjacency_down.sql"),
    ),
    (
        "m20261207_000098_keyword_needs_scan",
        include_str!("sql/0098_keyword_needs_scan_up.sql"),
        include_str!("sql/0098_keyword_needs_scan_down.sql"),
    ),
    (
        "m20261207_000099_keyword_words_once",
        include_str!("sql/0099_keyword_words_once_up.sql"),
        include_str!("sql/0099_keyword_words_once_down.sql"),
    ),
    (
        "m20261207_000100_keyword_parses_once",
        include_str!("sql/0100_keyword_parses_once_up.sql"),
        include_str!("sql/0100_keyword_parses_once_down.sql"),
    ),
    (
        "m20261207_000101_inlined_functions",
        include_str!("sql/0101_inlined_functions_up.sql"),
        include_str!("sql/0101_inlined_functions_down.sql"),
    ),
    (
        "m20261207_000102_workspace_vector_versions",
        include_str!("sql/0102_workspace_vector_versions_up.sql"),
        include_str!("sql/0102_workspace_vector_versions_down.sql"),
    ),
    (
        "m20261208_000103_keyword_ready_by_vector",
        include_str!("sql/0103_keyword_ready_by_vector_up.sql"),
        include_str!("sql/0103_keyword_ready_by_vector_down.sql"),
    ),
    (
        "m20261208_000104_keyword_workspace_languages",
        include_str!("sql/0104_keyword_workspace_languages_up.sql"),
        include_str!("sql/0104_keyword_workspace_languages_down.sql"),
    ),
];

/// A short digest of every migration's SQL: changes when any migration does.
/// Test harnesses key their migrated template databases on it.
pub fn fingerprint() -> String {
    // FNV-1a: stable across builds and platforms, no dependency needed.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, up, down) in MIGRATIONS {
        for byte in name.bytes().chain(up.bytes()).chain(down.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        MIGRATIONS
            .iter()
            .map(|&(name, up, down)| Box::new(SqlMigration { name, up, down }) as _)
            .collect()
    }
}
