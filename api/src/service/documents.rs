//! Reference documents: reads, lists and statistics, changes and deletion
//! (ingestion is `service::ingestion`).
//!
//! A row of `code_documents` is one chunk of a source document. Its
//! `content_hash` (SHA-256 of the chunk) is unique within a workspace, so
//! ingesting the same text again adds nothing and reports it as skipped.

use std::{collections::HashSet, sync::LazyLock};

use chrono::{DateTime, FixedOffset};
use entity::{enums::QuotaMetric, enums::WorkspaceStatus, workspaces};
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, Statement, TransactionTrait, Value, prelude::*,
};
use uuid::Uuid;

use super::{
    page::{Cursor, Page, PageResult},
    usage,
};
use crate::domain::validate;
use crate::{
    auth::TenantCaller,
    config::IngestConfig,
    db::{TenantOwned, rows},
    embedding::{self, Embedder, Reranker},
    error::{AppError, AppResult},
    ingest::{self, ChunkPolicy, Chunking},
    search::{ResidentVectors, SearchFilter, VectorStore, WorkspaceSizes},
    text::estimate_tokens,
};

/// A stored chunk, without its vector (6 KB that no client list needs);
/// read by position ([`rows`]), each search reads ten or more.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DocumentRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub source_path: String,
    pub title: String,
    pub content: String,
    pub content_hash: String,
    pub language: String,
    pub chunk_index: i32,
    pub chunk_count: i32,
    pub metadata: serde_json::Value,
    pub embedding_model: Option<String>,
    pub token_count: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    /// The heading path the chunk sits under.
    pub section: Option<String>,
    pub source_format: Option<String>,
    pub source_encoding: Option<String>,
    /// The chunking rules it was cut with.
    pub chunking: Option<String>,
    /// `PENDING`, `EMBEDDING`, `READY` (searchable) or `FAILED`.
    pub status: String,
    pub status_reason: Option<String>,
    pub ingestion_job_id: Option<Uuid>,
}

rows::positional!(DocumentRow {
    id,
    tenant_id,
    workspace_id,
    source_path,
    title,
    content,
    content_hash,
    language,
    chunk_index,
    chunk_count,
    metadata,
    embedding_model,
    token_count,
    created_by,
    created_at,
    updated_at,
    section,
    source_format,
    source_encoding,
    chunking,
    status,
    status_reason,
    ingestion_job_id,
});

/// The select list of a [`DocumentRow`]: its [`rows::Positional`] columns.
pub(super) static COLUMNS: LazyLock<String> = LazyLock::new(|| <DocumentRow as rows::Positional>::COLUMNS.join(", "));

/// What ingestion and search need besides the database.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub embedder: &'a dyn Embedder,
    pub vectors: &'a dyn VectorStore,
    /// Workspace sizes the vector search counted lately.
    pub sizes: &'a WorkspaceSizes,
    /// Small workspaces' vectors in memory (exact search candidates).
    pub resident: &'a ResidentVectors,
    pub ingest: IngestConfig,
    /// How documents are cut into chunks.
    pub chunking: &'a ChunkPolicy,
    /// Reorders search candidates, when configured.
    pub reranker: Option<&'a Reranker>,
}

/// A vector the client sent: JSON numbers (`embedding`), or base64 of its
/// little-endian float32 values (`embeddingBase64`, what OpenAI's embeddings
/// API returns with `encoding_format: "base64"`: about 8 KB for 1,536
/// dimensions where the numbers take about 30 KB of JSON, and one string
/// for the server to read instead of 1,536 numbers that async-graphql
/// builds, validates, clones and converts one by one).
#[derive(Debug, Clone)]
pub enum ClientEmbedding {
    Floats(Vec<f64>),
    Base64(String),
}

impl ClientEmbedding {
    /// The one of the two inputs at `at` (`""`, or `documents[3].`) the
    /// client gave; `BAD_USER_INPUT` when it gave both.
    pub fn from_input(at: &str, floats: Option<Vec<f64>>, base64: Option<String>) -> AppResult<Option<Self>> {
        match (floats, base64) {
            (Some(_), Some(_)) => Err(AppError::bad_input(
                format!("{at}embeddingBase64"),
                "give `embedding` or `embeddingBase64`, not both",
            )),
            (floats, base64) => Ok(floats.map(Self::Floats).or(base64.map(Self::Base64))),
        }
    }

    /// The input field it came in, at `at`.
    pub fn field(&self, at: &str) -> String {
        match self {
            Self::Floats(_) => format!("{at}embedding"),
            Self::Base64(_) => format!("{at}embeddingBase64"),
        }
    }

    /// The vector: 1536 dimensions (or the server model's own size,
    /// zero-padded), finite, not all zero.
    pub fn vector(&self, at: &str, embedder: &dyn Embedder) -> AppResult<Vec<f32>> {
        let field = self.field(at);
        let values = match self {
            Self::Floats(values) => values.iter().map(|x| *x as f32).collect(),
            Self::Base64(text) => decode_base64(&field, text, embedder.dimensions())?,
        };
        embedding::check_vector(&values, embedder.dimensions())
            .map_err(|reason| AppError::bad_input(&field, format!("`{field}` {reason}")))?;
        Ok(embedding::pad(values))
    }
}

/// Little-endian float32 values from base64 (standard alphabet, padded),
/// the text's length checked before it is decoded.
fn decode_base64(field: &str, text: &str, dimensions: usize) -> AppResult<Vec<f32>> {
    let most = dimensions.max(crate::config::EMBEDDING_DIMENSIONS) * 4;
    if text.len() > most.div_ceil(3) * 4 {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` is longer than {most} bytes of float32 values"),
        ));
    }
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
        .map_err(|_| AppError::bad_input(field, format!("`{field}` is not base64 (standard alphabet, padded)")))?;
    if bytes.len() % 4 != 0 {
        return Err(AppError::bad_input(
            field,
            format!(
                "`{field}` holds {} bytes, not a whole number of float32 values",
                bytes.len()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

pub(super) fn embedding_failed(err: embedding::EmbeddingError) -> AppError {
    AppError::internal(anyhow::Error::new(err).context("embedding documents"))
}

/// A workspace of the caller's tenant that accepts writes.
pub(super) async fn writable_workspace(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    id: Uuid,
) -> AppResult<workspaces::Model> {
    let workspace = workspaces::Entity::find_by_id_in(caller.tenant_id, id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("workspace"))?;
    if workspace.status == WorkspaceStatus::Archived {
        return Err(AppError::conflict("the workspace is archived and read only"));
    }
    Ok(workspace)
}

/// Refuses vectors of `model` in a workspace whose vectors come from another.
pub(super) async fn check_model(db: &impl ConnectionTrait, workspace_id: Uuid, model: &str) -> AppResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT screenplay.check_embedding_model($1, $2)",
        [workspace_id.into(), model.into()],
    ))
    .await?;
    Ok(())
}

/// Reads one chunk of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<DocumentRow> {
    let tenant_id = caller.tenant_id;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT {} FROM screenplay.code_documents WHERE tenant_id = $1 AND id = $2",
            *COLUMNS
        ),
        [tenant_id.into(), id.into()],
    );
    rows::all_raw(db, statement)
        .await?
        .pop()
        .ok_or(AppError::not_found("document"))
}

/// Rows by id (missing ids are left out), in no particular order.
pub async fn get_many(db: &impl ConnectionTrait, caller: &TenantCaller, ids: &[Uuid]) -> AppResult<Vec<DocumentRow>> {
    let tenant_id = caller.tenant_id;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT {} FROM screenplay.code_documents WHERE tenant_id = $1 AND id = ANY($2)",
            *COLUMNS
        ),
        [tenant_id.into(), ids.to_vec().into()],
    );
    rows::all_raw(db, statement).await
}

/// A checked filter (language code, metadata object).
pub fn check_filter(filter: SearchFilter) -> AppResult<SearchFilter> {
    Ok(SearchFilter {
        language: filter
            .language
            .map(|l| validate::language("filter.language", &l))
            .transpose()?,
        source_path_prefix: filter.source_path_prefix.filter(|p| !p.is_empty()),
        metadata: filter
            .metadata
            .map(|m| validate::json_object("filter.metadata", m))
            .transpose()?,
    })
}

pub(super) fn filter_sql(filter: &SearchFilter, values: &mut Vec<Value>) -> String {
    let mut sql = String::new();
    if let Some(language) = &filter.language {
        values.push(language.clone().into());
        sql.push_str(&format!(" AND language = ${}", values.len()));
    }
    if let Some(prefix) = &filter.source_path_prefix {
        values.push(prefix.clone().into());
        sql.push_str(&format!(" AND starts_with(source_path, ${})", values.len()));
    }
    if let Some(metadata) = &filter.metadata {
        values.push(metadata.clone().into());
        sql.push_str(&format!(" AND metadata @> ${}", values.len()));
    }
    sql
}

/// A workspace of the caller's tenant must exist (any status).
pub async fn ensure_workspace(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<()> {
    let tenant_id = caller.tenant_id;
    workspaces::Entity::find_by_id_in(tenant_id, id)
        .one(db)
        .await?
        .map(|_| ())
        .ok_or(AppError::not_found("workspace"))
}

/// A page of a workspace's chunks, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    workspace_id: Uuid,
    filter: &SearchFilter,
    page: &Page,
) -> AppResult<PageResult<DocumentRow>> {
    let tenant_id = caller.tenant_id;
    ensure_workspace(db, caller, workspace_id).await?;
    let mut values: Vec<Value> = vec![tenant_id.into(), workspace_id.into()];
    let mut sql = format!(
        "SELECT {} FROM screenplay.code_documents WHERE tenant_id = $1 AND workspace_id = $2{}",
        *COLUMNS,
        filter_sql(filter, &mut values)
    );
    let keyset = |c: &Cursor, op: &str, values: &mut Vec<Value>| {
        values.push(c.at.into());
        values.push(c.id.into());
        format!(" AND (created_at, id) {op} (${}, ${})", values.len() - 1, values.len())
    };
    if let Some(after) = &page.after {
        sql.push_str(&keyset(after, "<", &mut values));
    }
    if let Some(before) = &page.before {
        sql.push_str(&keyset(before, ">", &mut values));
    }
    let order = if page.backward { "ASC" } else { "DESC" };
    sql.push_str(&format!(
        " ORDER BY created_at {order}, id {order} LIMIT {}",
        page.limit + 1
    ));
    let fetched = rows::all_raw(db, Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(PageResult::from_fetched(fetched, page))
}

/// Chunks matching the filter.
pub async fn count(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    workspace_id: Uuid,
    filter: &SearchFilter,
) -> AppResult<u64> {
    let tenant_id = caller.tenant_id;
    let mut values: Vec<Value> = vec![tenant_id.into(), workspace_id.into()];
    let sql = format!(
        "SELECT count(*) AS n FROM screenplay.code_documents WHERE tenant_id = $1 AND workspace_id = $2{}",
        filter_sql(filter, &mut values)
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("count returned no row")))?;
    Ok(row.try_get::<i64>("", "n")? as u64)
}

/// A change to one chunk; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DocumentChange {
    pub source_path: Option<String>,
    pub title: Option<String>,
    pub language: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// New text for this chunk (re-hashed and re-embedded).
    pub content: Option<String>,
    /// A client-supplied embedding of the (new) content.
    pub embedding: Option<ClientEmbedding>,
    pub embedding_model: Option<String>,
}

/// Changes one chunk; returns it before and after.
pub async fn update(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    caller: &TenantCaller,
    deps: Deps<'_>,
    id: Uuid,
    change: DocumentChange,
) -> AppResult<(DocumentRow, DocumentRow)> {
    let tx = db.begin().await?;
    let before = get(&tx, caller, id).await?;
    writable_workspace(&tx, caller, before.workspace_id).await?;
    let fields = ChunkFields::changed(&before, &change)?;
    let vector = new_vector(
        &tx,
        caller,
        deps,
        &change,
        &fields.content,
        fields.content != before.content,
    )
    .await?;
    if let Some(vector) = &vector {
        check_other_chunks_model(&tx, &before, &vector.model).await?;
    }
    let after = write_chunk(&tx, caller, id, fields, vector.as_ref()).await?;
    if let Some(vector) = &vector {
        let tokens = Decimal::from(vector.tokens);
        usage::add(&tx, caller.tenant_id, QuotaMetric::EmbeddingTokens, tokens).await?;
    }
    tx.commit().await?;
    Ok((before, after))
}

/// A chunk's fields after a change, checked.
struct ChunkFields {
    source_path: String,
    title: String,
    language: String,
    metadata: serde_json::Value,
    content: String,
}

impl ChunkFields {
    fn changed(before: &DocumentRow, change: &DocumentChange) -> AppResult<Self> {
        Ok(Self {
            source_path: match &change.source_path {
                Some(p) => validate::name("sourcePath", p, 1000)?,
                None => before.source_path.clone(),
            },
            title: match &change.title {
                Some(t) => validate::name("title", t, 500)?,
                None => before.title.clone(),
            },
            language: match &change.language {
                Some(l) => validate::language("language", l)?,
                None => before.language.clone(),
            },
            metadata: match change.metadata.clone() {
                Some(m) => validate::json_object("metadata", m)?,
                None => before.metadata.clone(),
            },
            content: match &change.content {
                Some(c) => chunk_content(c)?,
                None => before.content.clone(),
            },
        })
    }
}

/// New text for one chunk: not empty, and short enough to be one chunk.
fn chunk_content(text: &str) -> AppResult<String> {
    let content = text.replace("\r\n", "\n").trim().to_owned();
    if content.is_empty() {
        return Err(AppError::bad_input("content", "`content` must not be empty"));
    }
    if content.chars().count() > Chunking::MAX_MAX_CHARS {
        return Err(AppError::bad_input(
            "content",
            format!(
                "a chunk holds at most {} characters; ingest longer text to have it split",
                Chunking::MAX_MAX_CHARS
            ),
        ));
    }
    Ok(content)
}

/// A chunk's new vector, its model and what embedding it cost.
struct NewVector {
    vector: Vec<f32>,
    model: String,
    tokens: u64,
}

/// The changed chunk's vector: the client's, or the new content embedded
/// (within the embedding quota); none when neither changed.
async fn new_vector(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    deps: Deps<'_>,
    change: &DocumentChange,
    content: &str,
    content_changed: bool,
) -> AppResult<Option<NewVector>> {
    if change.embedding_model.is_some() && change.embedding.is_none() {
        return Err(AppError::bad_input(
            "embeddingModel",
            "`embeddingModel` names the model of `embedding`; give both",
        ));
    }
    if let Some(embedding) = &change.embedding {
        return Ok(Some(NewVector {
            vector: embedding.vector("", deps.embedder)?,
            model: change
                .embedding_model
                .clone()
                .unwrap_or_else(|| deps.embedder.model().to_owned()),
            tokens: 0,
        }));
    }
    if !content_changed {
        return Ok(None);
    }
    let estimate = estimate_tokens(content);
    usage::ensure_within(tx, caller.tenant_id, QuotaMetric::EmbeddingTokens, estimate as i64).await?;
    let embedded = deps
        .embedder
        .embed(&[content.to_owned()])
        .await
        .map_err(embedding_failed)?;
    let vector = embedded
        .vectors
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the embedder returned no vector")))?;
    Ok(Some(NewVector {
        vector,
        model: deps.embedder.model().to_owned(),
        tokens: embedded.tokens,
    }))
}

/// Refuses a vector of `model` when the workspace's other chunks come from
/// another (the chunk's own old vector does not count: it is replaced).
async fn check_other_chunks_model(tx: &DatabaseTransaction, before: &DocumentRow, model: &str) -> AppResult<()> {
    let others = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM screenplay.code_documents WHERE workspace_id = $1 AND id <> $2 \
             AND embedding_model IS NOT NULL AND embedding_model <> $3",
            [before.workspace_id.into(), before.id.into(), model.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if others > 0 {
        return Err(AppError::bad_input(
            "embeddingModel",
            format!("the workspace's other documents are embedded with another model than `{model}`"),
        ));
    }
    Ok(())
}

/// Writes the chunk's fields (and vector) and returns the row.
async fn write_chunk(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    id: Uuid,
    fields: ChunkFields,
    vector: Option<&NewVector>,
) -> AppResult<DocumentRow> {
    let mut values: Vec<Value> = vec![
        fields.source_path.into(),
        fields.title.into(),
        fields.language.into(),
        fields.metadata.into(),
        ingest::content_hash(&fields.content).into(),
        (estimate_tokens(&fields.content).min(i32::MAX as u64) as i32).into(),
        fields.content.into(),
        id.into(),
        caller.tenant_id.into(),
    ];
    let mut sql = String::from(
        "UPDATE screenplay.code_documents SET source_path = $1, title = $2, language = $3, metadata = $4, \
         content_hash = $5, token_count = $6, content = $7",
    );
    if let Some(v) = vector {
        values.push(PgVector::from(v.vector.clone()).into());
        values.push(v.model.clone().into());
        sql.push_str(", embedding = $10, embedding_model = $11");
    }
    sql.push_str(&format!(" WHERE id = $8 AND tenant_id = $9 RETURNING {}", *COLUMNS));
    rows::all_raw(tx, Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await?
        .pop()
        .ok_or(AppError::not_found("document"))
}

/// Deletes chunks; all of them or, when one is missing, none (`NOT_FOUND`).
pub async fn delete(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    caller: &TenantCaller,
    ids: &[Uuid],
) -> AppResult<Vec<DocumentRow>> {
    let ids: Vec<Uuid> = {
        let mut seen = HashSet::new();
        ids.iter().copied().filter(|id| seen.insert(*id)).collect()
    };
    if ids.is_empty() {
        return Err(AppError::bad_input("ids", "`ids` must not be empty"));
    }
    if ids.len() > 1000 {
        return Err(AppError::bad_input("ids", "at most 1000 ids per call"));
    }
    let tx = db.begin().await?;
    let archived = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM screenplay.code_documents AS d JOIN screenplay.workspaces AS w \
             ON w.tenant_id = d.tenant_id AND w.id = d.workspace_id \
             WHERE d.tenant_id = $1 AND d.id = ANY($2) AND w.status = 'archived'",
            [caller.tenant_id.into(), ids.clone().into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if archived > 0 {
        return Err(AppError::conflict("the workspace is archived and read only"));
    }
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "DELETE FROM screenplay.code_documents WHERE tenant_id = $1 AND id = ANY($2) RETURNING {}",
            *COLUMNS
        ),
        [caller.tenant_id.into(), ids.clone().into()],
    );
    let deleted: Vec<DocumentRow> = rows::all_raw(&tx, statement).await?;
    if deleted.len() != ids.len() {
        return Err(AppError::not_found("document"));
    }
    tx.commit().await?;
    Ok(deleted)
}

/// `screenplay.get_document_statistics` of a workspace.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct Statistics {
    pub workspace_id: Uuid,
    pub document_count: i64,
    pub chunk_count: i64,
    pub embedded_chunk_count: i64,
    pub token_count: i64,
    pub total_chars: i64,
    pub average_chunk_chars: f64,
    pub languages: serde_json::Value,
    pub embedding_models: serde_json::Value,
    pub first_ingested_at: Option<DateTime<FixedOffset>>,
    pub last_ingested_at: Option<DateTime<FixedOffset>>,
}

pub async fn statistics(db: &impl ConnectionTrait, caller: &TenantCaller, workspace_id: Uuid) -> AppResult<Statistics> {
    ensure_workspace(db, caller, workspace_id).await?;
    Statistics::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT * FROM screenplay.get_document_statistics($1)",
        [workspace_id.into()],
    ))
    .one(db)
    .await?
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("get_document_statistics returned no row")))
}
