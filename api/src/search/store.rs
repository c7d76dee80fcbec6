//! The vector store interface and the pgvector implementation (Milvus: [`super::milvus`]).

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, prelude::PgVector};
use uuid::Uuid;

use super::query::{Scored, SearchFilter};
use crate::error::AppResult;

/// A nearest-neighbour search inside one workspace.
#[derive(Debug, Clone)]
pub struct VectorQuery<'a> {
    pub workspace_id: Uuid,
    /// 1536 dimensions.
    pub embedding: &'a [f32],
    /// Refused when the workspace's vectors come from another model.
    pub model: &'a str,
    pub limit: u32,
    pub filter: &'a SearchFilter,
    /// HNSW candidate list size for this search (pgvector `hnsw.ef_search`).
    pub ef_search: Option<u32>,
    /// Compare with every vector instead of using the index.
    pub exact: bool,
}

/// Where vectors are searched. Vectors always live in the
/// `code_documents` rows (PostgreSQL is the source of truth); a store other
/// than pgvector holds a mirror fed by the vector outbox. Every call runs
/// inside the request's tenant transaction, so a store backed by PostgreSQL
/// is bound by row-level security; another must filter by tenant itself.
#[async_trait::async_trait]
pub trait VectorStore: Send + Sync {
    /// `pgvector` or `milvus`, as `SCREENPLAY_VECTOR_STORE` names it.
    fn name(&self) -> &'static str;

    /// Whether searches run in PostgreSQL: then the search statement reads
    /// vectors, keywords and rows in one round trip instead of calling
    /// [`VectorStore::search`].
    fn searches_in_postgres(&self) -> bool;

    /// Whether the store answers (for `/readyz`); PostgreSQL's own check covers pgvector.
    async fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    /// The nearest documents of a workspace by cosine similarity, best first.
    async fn search(&self, tx: &DatabaseTransaction, query: &VectorQuery<'_>) -> AppResult<Vec<Scored>>;
}

pub type SharedVectorStore = Arc<dyn VectorStore>;

/// Vectors in `code_documents.embedding` (HNSW, cosine), searched with
/// `screenplay.search_similar_documents`.
#[derive(Debug, Clone, Default)]
pub struct PgVectorStore;

#[async_trait::async_trait]
impl VectorStore for PgVectorStore {
    fn name(&self) -> &'static str {
        "pgvector"
    }

    fn searches_in_postgres(&self) -> bool {
        true
    }

    async fn search(&self, tx: &DatabaseTransaction, q: &VectorQuery<'_>) -> AppResult<Vec<Scored>> {
        let rows = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id, similarity, rank FROM screenplay.search_similar_documents(\
                 $1, $2, $3, NULL, $4, $5, $6, $7, $8, $9)",
                [
                    q.workspace_id.into(),
                    PgVector::from(q.embedding.to_vec()).into(),
                    (q.limit as i32).into(),
                    q.model.to_owned().into(),
                    q.filter.language.clone().into(),
                    q.filter.source_path_prefix.clone().into(),
                    q.filter.metadata.clone().into(),
                    q.ef_search.map(|e| e as i32).into(),
                    q.exact.into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Scored {
                    id: row.try_get("", "id")?,
                    score: row.try_get("", "similarity")?,
                    rank: row.try_get::<i32>("", "rank")? as u32,
                })
            })
            .collect()
    }
}
