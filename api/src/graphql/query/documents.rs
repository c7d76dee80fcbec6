use async_graphql::{Context, InputObject, Json, Object};
use uuid::Uuid;

use crate::{
    auth::{Action, policy},
    error::NotFoundAsNone,
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        guards::Allow,
        types::{Document, DocumentStatistics, IngestionJob, SearchHit, SearchMode},
    },
    search::SearchFilter,
    service::{
        documents::{self, ClientEmbedding},
        indexing, page, search,
    },
};

/// Narrows documents and searches.
#[derive(InputObject, Default)]
pub struct DocumentFilter {
    /// Documents of this language only (e.g. `en`, `zh`).
    pub language: Option<String>,
    /// Documents whose source path starts with this.
    pub source_path_prefix: Option<String>,
    /// Documents whose metadata contains this JSON object.
    pub metadata: Option<Json<serde_json::Value>>,
}

impl From<DocumentFilter> for SearchFilter {
    fn from(f: DocumentFilter) -> Self {
        Self {
            language: f.language,
            source_path_prefix: f.source_path_prefix,
            metadata: f.metadata.map(|m| m.0),
        }
    }
}

#[derive(InputObject)]
pub struct SearchDocumentsInput {
    pub workspace_id: Uuid,
    /// The search text; embedded on the server unless `embedding` is given.
    pub query: Option<String>,
    /// A query embedding of the workspace's model (1536 dimensions).
    pub embedding: Option<Vec<f64>>,
    /// The same as base64 of little-endian float32 values, as OpenAI's
    /// embeddings API returns them with `encoding_format: "base64"`: instead
    /// of `embedding`, and cheaper to send and to read.
    pub embedding_base64: Option<String>,
    /// The model of `embedding`; defaults to the server's.
    pub embedding_model: Option<String>,
    #[graphql(default_with = "SearchMode::Hybrid")]
    pub mode: SearchMode,
    /// Hits to return, 1 to 100 (default 10).
    pub limit: Option<i32>,
    /// Hits scoring below this are dropped (the fused score for HYBRID).
    pub min_score: Option<f64>,
    /// HYBRID: reciprocal rank fusion constant (default 60).
    pub rrf_k: Option<i32>,
    /// HYBRID: fuse by weights instead of ranks (a missing weight is 1 minus the other).
    pub vector_weight: Option<f64>,
    pub keyword_weight: Option<f64>,
    /// HYBRID: candidates each channel fetches (default max(50, limit)).
    pub candidates: Option<i32>,
    /// HNSW candidates for this search (default 800, at least `limit`; larger is slower and finds more). Workspaces of
    /// at most 10,000 chunks are searched exactly and do not use it.
    pub ef_search: Option<i32>,
    pub filter: Option<DocumentFilter>,
    /// Record the hits as documents retrieved for this session (needs the
    /// agent-records permission).
    pub session_id: Option<Uuid>,
    /// …and for this outline step.
    pub step_id: Option<Uuid>,
    /// Reorder the best candidates (`SCREENPLAY_RERANK_CANDIDATES`, at least
    /// `limit`) with the server's reranker; needs `query`. Counted as an LLM
    /// call (`llmCalls`, `llm_tokens` usage and quota).
    pub rerank: Option<bool>,
}

#[derive(Default)]
pub struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// A workspace's document chunks, newest first.
    #[graphql(
        guard = "Allow(Action::ReadContent)",
        complexity = "crate::graphql::cost::page(first, last, child_complexity)"
    )]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        workspace_id: Uuid,
        filter: Option<DocumentFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Document>> {
        let page = page::Page::new(first, after, last, before, ctx.app().config.limits.max_page_size)?;
        let filter = documents::check_filter(filter.unwrap_or_default().into())?;
        let (tx, caller) = ctx.scope().tenant().await?;
        let rows = documents::list(&*tx, &caller, workspace_id, &filter, &page).await?;
        let total = TotalCount::new(move || {
            let tx = tx.clone();
            let filter = filter.clone();
            Box::pin(async move { documents::count(&*tx, &caller, workspace_id, &filter).await })
        });
        Ok(connection::page(
            rows,
            |d| cursor(&d.created_at, d.id),
            Document::from,
            total,
        ))
    }

    /// One document chunk; null when there is none with this id.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn document(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Document>> {
        let (tx, caller) = ctx.scope().tenant().await?;
        Ok(documents::get(&*tx, &caller, id).await.optional()?.map(Into::into))
    }

    /// One ingestion job; null when there is none with this id.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn ingestion_job(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<IngestionJob>> {
        let (tx, caller) = ctx.scope().tenant().await?;
        Ok(indexing::get(&*tx, &caller, id).await?.map(Into::into))
    }

    /// Searches a workspace's documents by vector, keyword or both.
    #[graphql(
        guard = "Allow(Action::ReadContent)",
        complexity = "crate::graphql::cost::search(input.limit, child_complexity)"
    )]
    async fn search_documents(
        &self,
        ctx: &Context<'_>,
        input: SearchDocumentsInput,
    ) -> async_graphql::Result<Vec<SearchHit>> {
        if input.session_id.is_some() || input.step_id.is_some() {
            policy::check(ctx.principal(), Action::WriteAgentRecords)?;
        }
        let request = search::SearchRequest {
            workspace_id: input.workspace_id,
            query: input.query,
            embedding: ClientEmbedding::from_input("", input.embedding, input.embedding_base64)?,
            embedding_model: input.embedding_model,
            mode: input.mode.into(),
            limit: input.limit,
            min_score: input.min_score,
            rrf_k: input.rrf_k,
            vector_weight: input.vector_weight,
            keyword_weight: input.keyword_weight,
            candidates: input.candidates,
            ef_search: input.ef_search,
            filter: input.filter.unwrap_or_default().into(),
            session_id: input.session_id,
            step_id: input.step_id,
            rerank: input.rerank.unwrap_or(false),
        };
        let (tx, caller) = ctx.scope().tenant_for(search::writes(&request)).await?;
        let app = ctx.app();
        let hits = search::search(&tx, &caller, app.document_deps(), request, &app.audit).await?;
        Ok(hits.into_iter().map(SearchHit::from).collect())
    }

    /// What a workspace holds: documents, chunks, languages, models.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn document_statistics(
        &self,
        ctx: &Context<'_>,
        workspace_id: Uuid,
    ) -> async_graphql::Result<DocumentStatistics> {
        let (tx, caller) = ctx.scope().tenant().await?;
        Ok(documents::statistics(&*tx, &caller, workspace_id).await?.into())
    }
}
