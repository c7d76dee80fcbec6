//! What every request can reach: configuration, database, token keys.

use std::sync::Arc;

use crate::{
    audit::AuditSink,
    auth::jwt::{JwtIssuer, JwtVerifier},
    config::Config,
    db::{Db, Replicas},
    embedding::{Reranker, SharedEmbedder},
    events::EventHub,
    ingest::ChunkPolicy,
    request::{
        bulkhead::TenantBulkhead,
        parsed::ParsedDocuments,
        persisted::PersistedQueryStore,
        rate_limit::{LoginLimiter, RateLimiter},
    },
    search::{ResidentVectors, SharedVectorStore, WorkspaceSizes},
    service::documents::Deps,
};

/// Shared server state, held in the GraphQL schema data and the router.
pub struct AppState {
    pub config: Config,
    pub db: Db,
    /// Streaming replicas that take tenants' queries, when configured.
    pub replicas: Option<Arc<Replicas>>,
    pub verifier: JwtVerifier,
    pub issuer: JwtIssuer,
    /// Audit rows and request counters on their way to the database.
    pub audit: AuditSink,
    pub rate_limiter: RateLimiter,
    /// Each tenant's share of the pool.
    pub bulkhead: TenantBulkhead,
    /// Set when the shutdown grace period is over: operations still running
    /// are stopped, answered and audited.
    pub grace_over: tokio::sync::watch::Sender<bool>,
    /// Sign-in attempts per client, tenant slug and account.
    pub login_limiter: LoginLimiter,
    pub persisted: Arc<PersistedQueryStore>,
    /// Admitted GraphQL documents, parsed (the gate's cache).
    pub parsed: Arc<ParsedDocuments>,
    /// Live session events (LISTEN/NOTIFY) for subscriptions.
    pub events: EventHub,
    /// Embeds documents and search queries.
    pub embedder: SharedEmbedder,
    /// Where document vectors are searched.
    pub vectors: SharedVectorStore,
    /// Workspace sizes the vector search counted lately (its plan choice).
    pub workspace_sizes: WorkspaceSizes,
    /// Small workspaces' vectors in memory, for exact searches' candidates.
    pub resident_vectors: ResidentVectors,
    /// Milvus, when configured: the store, or the mirror this instance drains the outbox into.
    pub milvus: Option<Arc<crate::search::Milvus>>,
    /// How documents are cut into chunks (the embedding model's tokenizer).
    pub chunking: ChunkPolicy,
    /// Reorders search candidates when a search asks (`SCREENPLAY_RERANK_URL`).
    pub reranker: Option<Arc<Reranker>>,
    /// The headers GraphiQL opens with (local development: the demo admin's token).
    pub graphiql_headers: Option<String>,
}

impl AppState {
    /// What the document and search services need.
    pub fn document_deps(&self) -> Deps<'_> {
        Deps {
            embedder: self.embedder.as_ref(),
            vectors: self.vectors.as_ref(),
            sizes: &self.workspace_sizes,
            resident: &self.resident_vectors,
            ingest: self.config.ingest,
            chunking: &self.chunking,
            reranker: self.reranker.as_deref(),
        }
    }
}

/// Cloned into every handler.
pub type SharedState = Arc<AppState>;
