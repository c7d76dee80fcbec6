//! Retrieval: the vector store interface and its PostgreSQL implementation,
//! the keyword channel, fusion of the two, and highlights.
//!
//! Vectors are stored and searched only through [`VectorStore`]
//! (upsert, delete, search by workspace with filters), so a Milvus backend
//! can be added without touching resolvers or services. The keyword channel
//! is full-text search in PostgreSQL, where the documents live.

pub mod fusion;
pub mod highlight;
pub mod keyword;
pub mod store;

pub use store::{PgVectorStore, SharedVectorStore, VectorQuery, VectorRecord, VectorStore};

use uuid::Uuid;

/// Filters every channel applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Documents of this language only.
    pub language: Option<String>,
    /// Documents whose source path starts with this.
    pub source_path_prefix: Option<String>,
    /// Documents whose metadata contains this JSON object (`@>`).
    pub metadata: Option<serde_json::Value>,
}

/// One hit of one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub id: Uuid,
    pub score: f64,
    /// 1-based.
    pub rank: u32,
}

/// The SQLSTATE and message of a database error, if it is one.
pub(crate) fn db_error(err: &sea_orm::DbErr) -> Option<(String, String)> {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error().map(|d| {
                (
                    d.code().map(|c| c.into_owned()).unwrap_or_default(),
                    d.message().to_owned(),
                )
            })
        }
        _ => None,
    }
}
