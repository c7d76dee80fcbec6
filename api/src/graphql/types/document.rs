use async_graphql::{Enum, Json, SimpleObject};
use chrono::{DateTime, FixedOffset};
use uuid::Uuid;

use crate::service::{documents, indexing, ingestion, search};

/// One stored chunk of a reference document (long documents are split on
/// paragraph and sentence boundaries; each chunk is searched on its own).
#[derive(SimpleObject, Clone)]
pub struct Document {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// Where the text came from (a file path, a URL, any label).
    pub source_path: String,
    pub title: String,
    /// This chunk's text.
    pub content: String,
    /// SHA-256 (hex) of `content`: unique within the workspace.
    pub content_hash: String,
    /// ISO 639-1 code; selects the text search configuration.
    pub language: String,
    /// 0-based position of this chunk in its source document.
    pub chunk_index: i32,
    /// Chunks the source document was split into.
    pub chunk_count: i32,
    pub metadata: Json<serde_json::Value>,
    /// The model the embedding came from (null: not embedded).
    pub embedding_model: Option<String>,
    /// Tokens of `content`: counted by the embedding model's tokenizer when
    /// chunks are sized in tokens, else estimated.
    pub token_count: i32,
    /// The heading path this chunk sits under (`Act One > The Projectionist`).
    pub section: Option<String>,
    /// What the text was extracted from: `text`, `markdown`, `html`, `pdf`, `docx`.
    pub source_format: Option<String>,
    /// The detected encoding of a text file (`UTF-8`, `GB18030`, `Big5`, `UTF-16LE`…).
    pub source_encoding: Option<String>,
    /// The chunking rules it was cut with (`v2 tokens cl100k_base 512/64`).
    pub chunking: Option<String>,
    /// Searchable once `READY`; `FAILED` with `statusReason`.
    pub status: DocumentStatus,
    /// Why embedding this chunk failed.
    pub status_reason: Option<String>,
    /// The ingestion job that embeds (or embedded) this chunk.
    pub ingestion_job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

impl From<documents::DocumentRow> for Document {
    fn from(r: documents::DocumentRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            source_path: r.source_path,
            title: r.title,
            content: r.content,
            content_hash: r.content_hash,
            language: r.language,
            chunk_index: r.chunk_index,
            chunk_count: r.chunk_count,
            metadata: Json(r.metadata),
            embedding_model: r.embedding_model,
            token_count: r.token_count,
            section: r.section,
            source_format: r.source_format,
            source_encoding: r.source_encoding,
            chunking: r.chunking,
            status: DocumentStatus::parse(&r.status),
            status_reason: r.status_reason,
            ingestion_job_id: r.ingestion_job_id,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Where a chunk is on its way to search.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DocumentStatus {
    /// Stored, waiting for its ingestion job.
    Pending,
    /// Its job is embedding it now.
    Embedding,
    /// Embedded and searchable.
    Ready,
    /// Embedding failed (`statusReason` says why); not searchable.
    Failed,
}

impl DocumentStatus {
    fn parse(s: &str) -> Self {
        match s {
            "PENDING" => Self::Pending,
            "EMBEDDING" => Self::Embedding,
            "FAILED" => Self::Failed,
            _ => Self::Ready,
        }
    }
}

/// Where an ingestion job is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum IngestionJobStatus {
    /// Waiting for a worker (or for its next attempt after the provider failed).
    Pending,
    /// A worker is embedding its chunks.
    Running,
    /// Every chunk is `READY`.
    Completed,
    /// Some chunks `FAILED` (`lastError` says why); the others are `READY`.
    Failed,
}

/// The background embedding of the chunks one `ingestDocuments` call wrote.
#[derive(SimpleObject, Clone)]
pub struct IngestionJob {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub status: IngestionJobStatus,
    pub embedding_model: String,
    /// Chunks the job embeds.
    pub total_chunks: i32,
    pub ready_chunks: i32,
    pub failed_chunks: i32,
    /// Tokens the provider counted so far.
    pub embedding_tokens: i64,
    /// Times a worker has claimed it.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub finished_at: Option<DateTime<FixedOffset>>,
}

impl From<indexing::JobRow> for IngestionJob {
    fn from(j: indexing::JobRow) -> Self {
        let status = match j.status.as_str() {
            "RUNNING" => IngestionJobStatus::Running,
            "COMPLETED" => IngestionJobStatus::Completed,
            "FAILED" => IngestionJobStatus::Failed,
            _ => IngestionJobStatus::Pending,
        };
        Self {
            id: j.id,
            workspace_id: j.workspace_id,
            status,
            embedding_model: j.embedding_model,
            total_chunks: j.total_chunks,
            ready_chunks: j.ready_chunks,
            failed_chunks: j.failed_chunks,
            embedding_tokens: j.embedding_tokens,
            attempts: j.attempts,
            last_error: j.last_error,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
        }
    }
}

/// The matched chunk of a search hit.
#[derive(SimpleObject, Clone)]
pub struct DocumentChunk {
    /// 0-based position in the source document.
    pub index: i32,
    /// Chunks of the source document.
    pub count: i32,
    pub content: String,
}

/// Which channels a search uses.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SearchMode {
    /// Cosine similarity of embeddings.
    Vector,
    /// Full-text search: words (stemmed for English) and CJK character bigrams.
    Keyword,
    /// Both, fused by reciprocal rank fusion or by weights.
    Hybrid,
}

impl From<SearchMode> for search::Mode {
    fn from(m: SearchMode) -> Self {
        match m {
            SearchMode::Vector => Self::Vector,
            SearchMode::Keyword => Self::Keyword,
            SearchMode::Hybrid => Self::Hybrid,
        }
    }
}

/// One search result.
#[derive(SimpleObject, Clone)]
pub struct SearchHit {
    pub document: Document,
    pub chunk: DocumentChunk,
    /// The fused score (HYBRID), cosine similarity (VECTOR) or keyword score
    /// (KEYWORD); the reranker's score when the search reranked.
    pub score: f64,
    /// Cosine similarity, when the vector channel found this chunk.
    pub vector_score: Option<f64>,
    /// 1-based rank in the vector channel.
    pub vector_rank: Option<i32>,
    /// ts_rank score, when the keyword channel found this chunk.
    pub keyword_score: Option<f64>,
    /// 1-based rank in the keyword channel.
    pub keyword_rank: Option<i32>,
    /// The reranker's relevance score (then also `score`), when the search reranked.
    pub rerank_score: Option<f64>,
    /// About 200 characters of the chunk around the query's terms, HTML
    /// escaped, matches in `<mark>`…`</mark>`.
    pub highlight: String,
}

impl From<search::Hit> for SearchHit {
    fn from(h: search::Hit) -> Self {
        Self {
            chunk: DocumentChunk {
                index: h.document.chunk_index,
                count: h.document.chunk_count,
                content: h.document.content.clone(),
            },
            document: h.document.into(),
            score: h.score,
            vector_score: h.vector.map(|v| v.score),
            vector_rank: h.vector.map(|v| v.rank as i32),
            keyword_score: h.keyword.map(|k| k.score),
            keyword_rank: h.keyword.map(|k| k.rank as i32),
            rerank_score: h.rerank,
            highlight: h.highlight,
        }
    }
}

/// Chunks per language or per embedding model.
#[derive(SimpleObject, Clone)]
pub struct CountBy {
    pub key: String,
    pub chunks: i64,
}

/// What a workspace holds (`screenplay.get_document_statistics`).
#[derive(SimpleObject, Clone)]
pub struct DocumentStatistics {
    pub workspace_id: Uuid,
    /// Distinct source paths.
    pub document_count: i64,
    pub chunk_count: i64,
    pub embedded_chunk_count: i64,
    pub token_count: i64,
    pub total_chars: i64,
    pub average_chunk_chars: f64,
    pub languages: Vec<CountBy>,
    pub embedding_models: Vec<CountBy>,
    pub first_ingested_at: Option<DateTime<FixedOffset>>,
    pub last_ingested_at: Option<DateTime<FixedOffset>>,
}

fn counts(value: &serde_json::Value) -> Vec<CountBy> {
    let mut out: Vec<CountBy> = value
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| CountBy {
                    key: k.clone(),
                    chunks: v.as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| b.chunks.cmp(&a.chunks).then(a.key.cmp(&b.key)));
    out
}

impl From<documents::Statistics> for DocumentStatistics {
    fn from(s: documents::Statistics) -> Self {
        Self {
            workspace_id: s.workspace_id,
            document_count: s.document_count,
            chunk_count: s.chunk_count,
            embedded_chunk_count: s.embedded_chunk_count,
            token_count: s.token_count,
            total_chars: s.total_chars,
            average_chunk_chars: s.average_chunk_chars,
            languages: counts(&s.languages),
            embedding_models: counts(&s.embedding_models),
            first_ingested_at: s.first_ingested_at,
            last_ingested_at: s.last_ingested_at,
        }
    }
}

/// What happened to one input document of `ingestDocuments`.
#[derive(SimpleObject, Clone)]
pub struct IngestResult {
    pub source_path: String,
    pub chunk_count: i32,
    /// Chunks written by this call.
    pub added: i32,
    /// Chunks already in the workspace (same content hash), not written again.
    pub skipped: i32,
    /// Every chunk's document id, new or existing, in chunk order.
    pub document_ids: Vec<Uuid>,
}

impl From<ingestion::IngestResult> for IngestResult {
    fn from(r: ingestion::IngestResult) -> Self {
        Self {
            source_path: r.source_path,
            chunk_count: r.chunk_count as i32,
            added: r.added as i32,
            skipped: r.skipped as i32,
            document_ids: r.document_ids,
        }
    }
}
