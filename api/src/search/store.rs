//! The vector store interface and the pgvector implementation.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, prelude::PgVector};
use uuid::Uuid;

use super::query::{Scored, SearchFilter};
use crate::{domain::TenantId, error::AppResult};

/// A vector to store, with what searches filter on.
#[derive(Debug, Clone)]
pub struct VectorRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub workspace_id: Uuid,
    pub model: String,
    /// 1536 dimensions.
    pub embedding: Vec<f32>,
}

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

/// Where vectors live and how they are searched. Every call runs inside the
/// request's tenant transaction, so a store backed by PostgreSQL is bound by
/// row-level security; another backend must filter by tenant itself.
#[async_trait::async_trait]
pub trait VectorStore: Send + Sync {
    /// Whether vectors live in the `code_documents` rows themselves. Then the
    /// document INSERT writes them (one write per row instead of two) and
    /// [`VectorStore::upsert`] is only used to replace them.
    fn stores_in_document_rows(&self) -> bool;

    /// Adds or replaces the vectors of these documents.
    async fn upsert(&self, tx: &DatabaseTransaction, records: &[VectorRecord]) -> AppResult<()>;

    /// Removes the vectors of these documents.
    async fn delete(&self, tx: &DatabaseTransaction, tenant_id: TenantId, ids: &[Uuid]) -> AppResult<()>;

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
    fn stores_in_document_rows(&self) -> bool {
        true
    }

    async fn upsert(&self, tx: &DatabaseTransaction, records: &[VectorRecord]) -> AppResult<()> {
        for r in records {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE screenplay.code_documents SET embedding = $1, embedding_model = $2 \
                 WHERE id = $3 AND tenant_id = $4 AND workspace_id = $5",
                [
                    PgVector::from(r.embedding.clone()).into(),
                    r.model.clone().into(),
                    r.id.into(),
                    r.tenant_id.into(),
                    r.workspace_id.into(),
                ],
            ))
            .await?;
        }
        Ok(())
    }

    async fn delete(&self, tx: &DatabaseTransaction, tenant_id: TenantId, ids: &[Uuid]) -> AppResult<()> {
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE screenplay.code_documents SET embedding = NULL, embedding_model = NULL \
             WHERE tenant_id = $1 AND id = ANY($2)",
            [tenant_id.into(), ids.to_vec().into()],
        ))
        .await?;
        Ok(())
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
