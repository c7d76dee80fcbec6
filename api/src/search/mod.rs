//! Retrieval: the vector store interface and its PostgreSQL implementation,
//! the keyword channel, fusion of the two, and highlights.
//!
//! Vectors live in the document rows; they are searched through
//! [`VectorStore`]: pgvector in the same statement as the rows, or Milvus
//! (a mirror fed by the vector outbox) with the rows read back under
//! row-level security. The keyword channel is full-text search in
//! PostgreSQL, where the documents live.

pub mod fusion;
pub mod highlight;
pub mod keyword;
pub mod milvus;
mod query;
pub mod resident;
pub mod sizes;
pub mod store;

pub use milvus::{Milvus, MilvusStore, MirrorRecord};
pub use query::{Scored, SearchFilter};
pub use resident::ResidentVectors;
pub use sizes::WorkspaceSizes;
pub use store::{PgVectorStore, SharedVectorStore, VectorQuery, VectorStore};
