//! Reference documents: ingestion (chunking, content-hash idempotency,
//! embeddings), changes, deletion, lists and statistics.
//!
//! A row of `code_documents` is one chunk of a source document. Its
//! `content_hash` (SHA-256 of the chunk) is unique within a workspace, so
//! ingesting the same text again adds nothing and reports it as skipped.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};
use entity::{enums::QuotaMetric, enums::WorkspaceStatus, workspaces};
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement,
    TransactionTrait, Value, prelude::*,
};
use uuid::Uuid;

use super::{
    page::{Cursor, Page, PageResult},
    usage,
};
use crate::{
    auth::TenantCaller,
    config::IngestConfig,
    embedding::{self, Embedder},
    error::{AppError, AppResult},
    ingest::{self, Chunking},
    search::{SearchFilter, VectorRecord, VectorStore, db_error},
};

/// A stored chunk, without its vector (6 KB that no client list needs).
#[derive(Debug, Clone, PartialEq, FromQueryResult, serde::Serialize)]
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
}

const COLUMNS: &str = "id, tenant_id, workspace_id, source_path, title, content, content_hash, language, \
                       chunk_index, chunk_count, metadata, embedding_model, token_count, created_by, created_at, \
                       updated_at";

/// Who writes: the tenant, and the user when there is one (the CLI has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
}

impl From<&TenantCaller> for Author {
    fn from(caller: &TenantCaller) -> Self {
        Self {
            tenant_id: caller.tenant_id,
            user_id: Some(caller.user_id),
        }
    }
}

/// What ingestion and search need besides the database.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub embedder: &'a dyn Embedder,
    pub vectors: &'a dyn VectorStore,
    pub ingest: IngestConfig,
}

/// One document to ingest.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub source_path: String,
    /// Defaults to the last segment of the source path.
    pub title: Option<String>,
    pub content: String,
    /// ISO 639-1 code, optionally with a region; guessed from the text when absent.
    pub language: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// A client-supplied embedding (only for content that is one chunk).
    pub embedding: Option<Vec<f64>>,
}

/// An ingest call.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub workspace_id: Uuid,
    pub documents: Vec<NewDocument>,
    pub max_chars: Option<usize>,
    pub overlap: Option<usize>,
    /// The model of client-supplied embeddings; defaults to the server's.
    pub embedding_model: Option<String>,
}

/// What happened to one input document.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestResult {
    pub source_path: String,
    pub chunk_count: usize,
    pub added: usize,
    pub skipped: usize,
    /// Every chunk's row, new or already present, in chunk order.
    pub document_ids: Vec<Uuid>,
}

/// The outcome of an ingest call.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    /// The rows written.
    pub added: Vec<DocumentRow>,
    pub skipped: usize,
    pub results: Vec<IngestResult>,
    pub embedding_tokens: u64,
    pub embedding_model: String,
}

/// A chunk ready to be written.
struct Prepared {
    doc: usize,
    source_path: String,
    title: String,
    content: String,
    hash: String,
    language: String,
    chunk_index: i32,
    chunk_count: i32,
    metadata: serde_json::Value,
    embedding: Option<Vec<f32>>,
}

/// Checks a language code such as `en`, `zh`, `zh-Hans`, `pt_BR`.
pub fn language(field: &str, value: &str) -> AppResult<String> {
    let value = value.trim();
    let (base, region) = match value.split_once(['-', '_']) {
        Some((b, r)) => (b, Some(r)),
        None => (value, None),
    };
    let ok = (2..=3).contains(&base.len())
        && base.bytes().all(|b| b.is_ascii_alphabetic())
        && region.is_none_or(|r| (2..=8).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must be a language code such as en, zh or zh-Hans"),
        ))
    }
}

/// A client-supplied vector: 1536 dimensions (or the server model's own
/// size, zero-padded), finite, not all zero.
pub fn client_vector(field: &str, values: &[f64], embedder: &dyn Embedder) -> AppResult<Vec<f32>> {
    let v: Vec<f32> = values.iter().map(|x| *x as f32).collect();
    embedding::check_vector(&v, embedder.dimensions())
        .map_err(|reason| AppError::bad_input(field, format!("`{field}` {reason}")))?;
    Ok(embedding::pad(v))
}

fn embedding_failed(err: embedding::EmbeddingError) -> AppError {
    AppError::internal(anyhow::Error::new(err).context("embedding documents"))
}

/// A workspace of the author's tenant that accepts writes.
async fn writable_workspace(db: &impl ConnectionTrait, author: &Author, id: Uuid) -> AppResult<workspaces::Model> {
    let workspace = workspaces::Entity::find_by_id(id)
        .filter(workspaces::Column::TenantId.eq(author.tenant_id))
        .one(db)
        .await?
        .ok_or(AppError::not_found("workspace"))?;
    if workspace.status == WorkspaceStatus::Archived {
        return Err(AppError::conflict("the workspace is archived and read only"));
    }
    Ok(workspace)
}

/// Refuses vectors of `model` in a workspace whose vectors come from another.
async fn check_model(db: &impl ConnectionTrait, workspace_id: Uuid, model: &str) -> AppResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT screenplay.check_embedding_model($1, $2)",
        [workspace_id.into(), model.into()],
    ))
    .await
    .map_err(|e| match db_error(&e) {
        Some((code, message)) if code == "22000" => AppError::bad_input(
            "embeddingModel",
            format!("{message}; a workspace holds vectors of one model"),
        ),
        _ => e.into(),
    })?;
    Ok(())
}

/// Ingests documents in one transaction (a savepoint of `db`).
pub async fn ingest(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    author: &Author,
    deps: Deps<'_>,
    request: IngestRequest,
) -> AppResult<IngestOutcome> {
    if request.documents.is_empty() {
        return Err(AppError::bad_input("documents", "`documents` must not be empty"));
    }
    if request.documents.len() > deps.ingest.max_documents {
        return Err(AppError::bad_input(
            "documents",
            format!(
                "at most {} documents per call; send the rest in another call",
                deps.ingest.max_documents
            ),
        ));
    }
    let chunking =
        Chunking::new(request.max_chars, request.overlap).map_err(|(field, msg)| AppError::bad_input(field, msg))?;
    let server_model = deps.embedder.model().to_owned();
    let client_model = match request.embedding_model.as_deref().map(str::trim) {
        Some("") => {
            return Err(AppError::bad_input(
                "embeddingModel",
                "`embeddingModel` must not be empty",
            ));
        }
        Some(m) if m.chars().count() > 200 => {
            return Err(AppError::bad_input(
                "embeddingModel",
                "`embeddingModel` must be at most 200 characters",
            ));
        }
        Some(m) => m.to_owned(),
        None => server_model.clone(),
    };

    // Check and split every document before touching the database.
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut any_server_embedded = false;
    for (i, doc) in request.documents.iter().enumerate() {
        let field = |name: &str| format!("documents[{i}].{name}");
        let source_path = super::validate::name(&field("sourcePath"), &doc.source_path, 1000)?;
        let title = match &doc.title {
            Some(t) => super::validate::name(&field("title"), t, 500)?,
            None => default_title(&source_path),
        };
        let language = match &doc.language {
            Some(l) => language(&field("language"), l)?,
            None => ingest::detect_language(&doc.content).to_owned(),
        };
        let metadata = super::validate::json_object(
            &field("metadata"),
            doc.metadata.clone().unwrap_or_else(|| serde_json::json!({})),
        )?;
        let chunks = ingest::split(&doc.content, chunking);
        if chunks.is_empty() {
            return Err(AppError::bad_input(field("content"), "the content is empty"));
        }
        let embedding = match &doc.embedding {
            Some(values) => {
                if chunks.len() > 1 {
                    return Err(AppError::bad_input(
                        field("embedding"),
                        format!(
                            "the content splits into {} chunks of at most {} characters; an embedding can only \
                             be given for content that is one chunk (raise chunking.maxChars or split it yourself)",
                            chunks.len(),
                            chunking.max_chars
                        ),
                    ));
                }
                Some(client_vector(&field("embedding"), values, deps.embedder)?)
            }
            None => {
                any_server_embedded = true;
                None
            }
        };
        let count = chunks.len() as i32;
        for (index, content) in chunks.into_iter().enumerate() {
            prepared.push(Prepared {
                doc: i,
                source_path: source_path.clone(),
                title: title.clone(),
                hash: ingest::content_hash(&content),
                content,
                language: language.clone(),
                chunk_index: index as i32,
                chunk_count: count,
                metadata: metadata.clone(),
                embedding: embedding.clone(),
            });
        }
        if prepared.len() > deps.ingest.max_chunks {
            return Err(AppError::bad_input(
                "documents",
                format!(
                    "these documents split into more than {} chunks; send fewer per call",
                    deps.ingest.max_chunks
                ),
            ));
        }
    }
    let any_client_embedded = prepared.iter().any(|p| p.embedding.is_some());
    if any_client_embedded && any_server_embedded && client_model != server_model {
        return Err(AppError::bad_input(
            "embeddingModel",
            format!(
                "documents without an embedding are embedded with the server's model `{server_model}`; with \
                 `embeddingModel` `{client_model}` every document needs an embedding"
            ),
        ));
    }
    let model = if any_client_embedded {
        client_model
    } else {
        server_model
    };

    let tx = db.begin().await?;
    let workspace = writable_workspace(&tx, author, request.workspace_id).await?;

    // Chunks already present (or repeated in this call) are skipped.
    let hashes: Vec<String> = prepared.iter().map(|p| p.hash.clone()).collect();
    let mut ids_by_hash = existing_ids(&tx, workspace.id, &hashes).await?;
    let mut seen: HashSet<&str> = HashSet::new();
    let new: Vec<&Prepared> = prepared
        .iter()
        .filter(|p| !ids_by_hash.contains_key(&p.hash) && seen.insert(p.hash.as_str()))
        .collect();

    if !new.is_empty() {
        check_model(&tx, workspace.id, &model).await?;
        usage::ensure_within(&tx, author.tenant_id, QuotaMetric::DocumentsIngested, new.len() as i64).await?;
    }
    // Vectors of the new chunks: the client's, or the embedder's.
    let mut vectors: Vec<Option<Vec<f32>>> = new.iter().map(|p| p.embedding.clone()).collect();
    let to_embed: Vec<usize> = (0..new.len()).filter(|&i| vectors[i].is_none()).collect();
    let mut tokens = 0u64;
    if !to_embed.is_empty() {
        let texts: Vec<String> = to_embed.iter().map(|&i| new[i].content.clone()).collect();
        let estimate: u64 = texts.iter().map(|t| embedding::estimate_tokens(t)).sum();
        usage::ensure_within(&tx, author.tenant_id, QuotaMetric::EmbeddingTokens, estimate as i64).await?;
        let embedded = deps.embedder.embed(&texts).await.map_err(embedding_failed)?;
        if embedded.vectors.len() != texts.len() {
            return Err(AppError::internal(anyhow::anyhow!("the embedder lost vectors")));
        }
        tokens = embedded.tokens;
        for (&i, v) in to_embed.iter().zip(embedded.vectors) {
            vectors[i] = Some(v);
        }
    }

    let inline = deps.vectors.stores_in_document_rows();
    let mut added: Vec<DocumentRow> = Vec::with_capacity(new.len());
    let mut records: Vec<VectorRecord> = Vec::new();
    let mut offset = 0;
    for batch in new.chunks(200) {
        let mut sql = String::from(
            "INSERT INTO screenplay.code_documents (id, tenant_id, workspace_id, source_path, title, content, \
             content_hash, language, chunk_index, chunk_count, metadata, embedding, embedding_model, token_count, \
             created_by) VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(batch.len() * 15);
        for (n, p) in batch.iter().enumerate() {
            let id = Uuid::now_v7();
            let vector = vectors[offset + n]
                .take()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a chunk without a vector")))?;
            if !inline {
                records.push(VectorRecord {
                    id,
                    tenant_id: author.tenant_id,
                    workspace_id: workspace.id,
                    model: model.clone(),
                    embedding: vector.clone(),
                });
            }
            if n > 0 {
                sql.push(',');
            }
            let b = n * 15;
            sql.push('(');
            sql.push_str(&(1..=15).map(|k| format!("${}", b + k)).collect::<Vec<_>>().join(","));
            sql.push(')');
            values.extend([
                id.into(),
                author.tenant_id.into(),
                workspace.id.into(),
                p.source_path.clone().into(),
                p.title.clone().into(),
                p.content.clone().into(),
                p.hash.clone().into(),
                p.language.clone().into(),
                p.chunk_index.into(),
                p.chunk_count.into(),
                p.metadata.clone().into(),
                if inline {
                    Value::from(PgVector::from(vector))
                } else {
                    Value::from(None::<PgVector>)
                },
                if inline { Some(model.clone()) } else { None }.into(),
                (embedding::estimate_tokens(&p.content).min(i32::MAX as u64) as i32).into(),
                author.user_id.into(),
            ]);
        }
        sql.push_str(" ON CONFLICT (workspace_id, content_hash) DO NOTHING RETURNING ");
        sql.push_str(COLUMNS);
        let rows = DocumentRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
            .all(&tx)
            .await?;
        added.extend(rows);
        offset += batch.len();
    }
    if !inline && !records.is_empty() {
        let kept: HashSet<Uuid> = added.iter().map(|r| r.id).collect();
        records.retain(|r| kept.contains(&r.id));
        deps.vectors.upsert(&tx, &records).await?;
    }
    for row in &added {
        ids_by_hash.insert(row.content_hash.clone(), row.id);
    }
    // Chunks a concurrent call wrote first.
    let missing: Vec<String> = hashes
        .iter()
        .filter(|h| !ids_by_hash.contains_key(*h))
        .cloned()
        .collect();
    if !missing.is_empty() {
        ids_by_hash.extend(existing_ids(&tx, workspace.id, &missing).await?);
    }

    let added_ids: HashSet<Uuid> = added.iter().map(|r| r.id).collect();
    let mut results: Vec<IngestResult> = request
        .documents
        .iter()
        .map(|d| IngestResult {
            source_path: d.source_path.trim().to_owned(),
            chunk_count: 0,
            added: 0,
            skipped: 0,
            document_ids: Vec::new(),
        })
        .collect();
    let mut counted: HashSet<Uuid> = HashSet::new();
    for p in &prepared {
        let id = ids_by_hash
            .get(&p.hash)
            .copied()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a chunk vanished during ingest")))?;
        let result = &mut results[p.doc];
        result.chunk_count += 1;
        result.document_ids.push(id);
        if added_ids.contains(&id) && counted.insert(id) {
            result.added += 1;
        } else {
            result.skipped += 1;
        }
    }
    let skipped = prepared.len() - added.len();

    usage::add(
        &tx,
        author.tenant_id,
        QuotaMetric::DocumentsIngested,
        Decimal::from(added.len() as u64),
    )
    .await?;
    usage::add(
        &tx,
        author.tenant_id,
        QuotaMetric::EmbeddingTokens,
        Decimal::from(tokens),
    )
    .await?;
    tx.commit().await?;
    Ok(IngestOutcome {
        added,
        skipped,
        results,
        embedding_tokens: tokens,
        embedding_model: model,
    })
}

fn default_title(source_path: &str) -> String {
    let name = source_path
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_path);
    let name = if name.is_empty() { source_path } else { name };
    name.chars().take(500).collect()
}

async fn existing_ids(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    hashes: &[String],
) -> AppResult<HashMap<String, Uuid>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT content_hash, id FROM screenplay.code_documents \
             WHERE workspace_id = $1 AND content_hash = ANY($2)",
            [workspace_id.into(), hashes.to_vec().into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "content_hash")?, r.try_get("", "id")?)))
        .collect()
}

/// Reads one chunk of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, tenant_id: Uuid, id: Uuid) -> AppResult<DocumentRow> {
    DocumentRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {COLUMNS} FROM screenplay.code_documents WHERE tenant_id = $1 AND id = $2"),
        [tenant_id.into(), id.into()],
    ))
    .one(db)
    .await?
    .ok_or(AppError::not_found("document"))
}

/// Rows by id (missing ids are left out), in no particular order.
pub async fn get_many(db: &impl ConnectionTrait, tenant_id: Uuid, ids: &[Uuid]) -> AppResult<Vec<DocumentRow>> {
    Ok(DocumentRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {COLUMNS} FROM screenplay.code_documents WHERE tenant_id = $1 AND id = ANY($2)"),
        [tenant_id.into(), ids.to_vec().into()],
    ))
    .all(db)
    .await?)
}

/// A checked filter (language code, metadata object).
pub fn check_filter(filter: SearchFilter) -> AppResult<SearchFilter> {
    Ok(SearchFilter {
        language: filter.language.map(|l| language("filter.language", &l)).transpose()?,
        source_path_prefix: filter.source_path_prefix.filter(|p| !p.is_empty()),
        metadata: filter
            .metadata
            .map(|m| super::validate::json_object("filter.metadata", m))
            .transpose()?,
    })
}

fn filter_sql(filter: &SearchFilter, values: &mut Vec<Value>) -> String {
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
pub async fn ensure_workspace(db: &impl ConnectionTrait, tenant_id: Uuid, id: Uuid) -> AppResult<()> {
    workspaces::Entity::find_by_id(id)
        .filter(workspaces::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .map(|_| ())
        .ok_or(AppError::not_found("workspace"))
}

/// A page of a workspace's chunks, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    workspace_id: Uuid,
    filter: &SearchFilter,
    page: &Page,
) -> AppResult<PageResult<DocumentRow>> {
    ensure_workspace(db, tenant_id, workspace_id).await?;
    let mut values: Vec<Value> = vec![tenant_id.into(), workspace_id.into()];
    let mut sql = format!(
        "SELECT {COLUMNS} FROM screenplay.code_documents WHERE tenant_id = $1 AND workspace_id = $2{}",
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
    let rows = DocumentRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .all(db)
        .await?;
    Ok(PageResult::from_fetched(rows, page))
}

/// Chunks matching the filter.
pub async fn count(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    workspace_id: Uuid,
    filter: &SearchFilter,
) -> AppResult<u64> {
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
    pub embedding: Option<Vec<f64>>,
    pub embedding_model: Option<String>,
}

/// Changes one chunk; returns it before and after.
pub async fn update(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    author: &Author,
    deps: Deps<'_>,
    id: Uuid,
    change: DocumentChange,
) -> AppResult<(DocumentRow, DocumentRow)> {
    let tx = db.begin().await?;
    let before = get(&tx, author.tenant_id, id).await?;
    writable_workspace(&tx, author, before.workspace_id).await?;
    let source_path = match &change.source_path {
        Some(p) => super::validate::name("sourcePath", p, 1000)?,
        None => before.source_path.clone(),
    };
    let title = match &change.title {
        Some(t) => super::validate::name("title", t, 500)?,
        None => before.title.clone(),
    };
    let language = match &change.language {
        Some(l) => language("language", l)?,
        None => before.language.clone(),
    };
    let metadata = match change.metadata.clone() {
        Some(m) => super::validate::json_object("metadata", m)?,
        None => before.metadata.clone(),
    };
    let content = match &change.content {
        Some(c) => {
            let c = c.replace("\r\n", "\n").trim().to_owned();
            if c.is_empty() {
                return Err(AppError::bad_input("content", "`content` must not be empty"));
            }
            if c.chars().count() > Chunking::MAX_MAX_CHARS {
                return Err(AppError::bad_input(
                    "content",
                    format!(
                        "a chunk holds at most {} characters; ingest longer text to have it split",
                        Chunking::MAX_MAX_CHARS
                    ),
                ));
            }
            c
        }
        None => before.content.clone(),
    };
    let content_changed = content != before.content;
    if change.embedding_model.is_some() && change.embedding.is_none() {
        return Err(AppError::bad_input(
            "embeddingModel",
            "`embeddingModel` names the model of `embedding`; give both",
        ));
    }
    let new_vector = match &change.embedding {
        Some(values) => Some((
            client_vector("embedding", values, deps.embedder)?,
            change
                .embedding_model
                .clone()
                .unwrap_or_else(|| deps.embedder.model().to_owned()),
            0u64,
        )),
        None if content_changed => {
            let estimate = embedding::estimate_tokens(&content);
            usage::ensure_within(&tx, author.tenant_id, QuotaMetric::EmbeddingTokens, estimate as i64).await?;
            let embedded = deps
                .embedder
                .embed(std::slice::from_ref(&content))
                .await
                .map_err(embedding_failed)?;
            let vector = embedded
                .vectors
                .into_iter()
                .next()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("the embedder returned no vector")))?;
            Some((vector, deps.embedder.model().to_owned(), embedded.tokens))
        }
        None => None,
    };
    if let Some((_, model, _)) = &new_vector {
        // The chunk's own old vector does not count: it is being replaced.
        let others = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM screenplay.code_documents WHERE workspace_id = $1 AND id <> $2 \
                 AND embedding_model IS NOT NULL AND embedding_model <> $3",
                [before.workspace_id.into(), id.into(), model.clone().into()],
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
    }
    let inline = deps.vectors.stores_in_document_rows();
    let mut values: Vec<Value> = vec![
        source_path.into(),
        title.into(),
        language.into(),
        metadata.into(),
        ingest::content_hash(&content).into(),
        (embedding::estimate_tokens(&content).min(i32::MAX as u64) as i32).into(),
        content.into(),
        id.into(),
        author.tenant_id.into(),
    ];
    let mut sql = String::from(
        "UPDATE screenplay.code_documents SET source_path = $1, title = $2, language = $3, metadata = $4, \
         content_hash = $5, token_count = $6, content = $7",
    );
    if let (Some((vector, model, _)), true) = (&new_vector, inline) {
        values.push(PgVector::from(vector.clone()).into());
        values.push(model.clone().into());
        sql.push_str(", embedding = $10, embedding_model = $11");
    }
    sql.push_str(&format!(" WHERE id = $8 AND tenant_id = $9 RETURNING {COLUMNS}"));
    let after = DocumentRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .one(&tx)
        .await?
        .ok_or(AppError::not_found("document"))?;
    if let (Some((vector, model, _)), false) = (&new_vector, inline) {
        deps.vectors
            .upsert(
                &tx,
                &[VectorRecord {
                    id,
                    tenant_id: author.tenant_id,
                    workspace_id: after.workspace_id,
                    model: model.clone(),
                    embedding: vector.clone(),
                }],
            )
            .await?;
    }
    if let Some((_, _, tokens)) = &new_vector {
        usage::add(
            &tx,
            author.tenant_id,
            QuotaMetric::EmbeddingTokens,
            Decimal::from(*tokens),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((before, after))
}

/// Deletes chunks; all of them or, when one is missing, none (`NOT_FOUND`).
pub async fn delete(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    author: &Author,
    vectors: &dyn VectorStore,
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
            [author.tenant_id.into(), ids.clone().into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if archived > 0 {
        return Err(AppError::conflict("the workspace is archived and read only"));
    }
    if !vectors.stores_in_document_rows() {
        vectors.delete(&tx, author.tenant_id, &ids).await?;
    }
    let deleted = DocumentRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("DELETE FROM screenplay.code_documents WHERE tenant_id = $1 AND id = ANY($2) RETURNING {COLUMNS}"),
        [author.tenant_id.into(), ids.clone().into()],
    ))
    .all(&tx)
    .await?;
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

pub async fn statistics(db: &impl ConnectionTrait, tenant_id: Uuid, workspace_id: Uuid) -> AppResult<Statistics> {
    ensure_workspace(db, tenant_id, workspace_id).await?;
    Statistics::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT * FROM screenplay.get_document_statistics($1)",
        [workspace_id.into()],
    ))
    .one(db)
    .await?
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("get_document_statistics returned no row")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes() {
        assert_eq!(language("l", "zh-Hans").ok().as_deref(), Some("zh-hans"));
        assert_eq!(language("l", "EN").ok().as_deref(), Some("en"));
        assert!(language("l", "english").is_err());
        assert!(language("l", "").is_err());
        assert!(language("l", "z1").is_err());
    }

    #[test]
    fn titles_default_to_file_names() {
        assert_eq!(default_title("scripts/act1/opening.fountain"), "opening.fountain");
        assert_eq!(default_title("notes"), "notes");
        assert_eq!(default_title("dir/"), "dir");
    }
}
