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
mod query;
pub mod store;

pub use query::{Scored, SearchFilter};
pub use store::{PgVectorStore, SharedVectorStore, VectorQuery, VectorRecord, VectorStore};
