//! Ingestion: documents in, chunks out, in one short transaction; their
//! vectors come from the indexing job it creates (`service::indexing`).
//!
//! The steps, each its own function: prepare (check, extract and split
//! every document before touching the database), replace (a source's
//! chunks cut under other chunking rules are deleted), dedupe (chunks whose
//! content hash the workspace already holds are skipped), embed (only a
//! local embedder, which costs no wait, embeds here; a provider's chunks
//! stay `PENDING` for the job), insert (in batches, `ON CONFLICT DO
//! NOTHING` for a concurrent call ingesting the same text) and tally (what
//! happened to each input document).

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
};

use entity::{enums::QuotaMetric, workspaces};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use super::{
    documents::{COLUMNS, ClientEmbedding, Deps, DocumentRow, check_model, embedding_failed, writable_workspace},
    indexing::{self, JobRow},
    usage,
};
use crate::{
    auth::TenantCaller,
    db::batch,
    domain::validate,
    embedding::vector_literal,
    error::{AppError, AppResult},
    ingest::{self, ChunkRequest, Chunking, Extracted, Measure},
    text::estimate_tokens,
};

/// Rows per INSERT statement.
const INSERT_BATCH: usize = 200;

/// What a document's text arrived as.
#[derive(Debug, Clone)]
pub enum DocumentBody {
    /// Text; Markdown and HTML are recognised by the source path.
    Text(String),
    /// A file already extracted (`ingest::extract`).
    File(Extracted),
}

impl Default for DocumentBody {
    fn default() -> Self {
        DocumentBody::Text(String::new())
    }
}

/// One document to ingest.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub source_path: String,
    /// Defaults to the title the file declares, else the last segment of
    /// the source path.
    pub title: Option<String>,
    pub content: DocumentBody,
    /// A language tag (`en`, `zh-Hans`); guessed from the text when absent.
    pub language: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// A client-supplied embedding (only for content that is one chunk).
    pub embedding: Option<ClientEmbedding>,
}

/// An ingest call.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub workspace_id: Uuid,
    pub documents: Vec<NewDocument>,
    /// Chunk sizes the call asks for; none: the server's.
    pub chunking: ChunkRequest,
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
    /// The job embedding the new chunks (none when no chunk needs a vector).
    pub job: Option<JobRow>,
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
    token_count: i32,
    section: Option<String>,
    source_format: &'static str,
    source_encoding: Option<&'static str>,
    chunking: String,
}

/// Ingests documents in one transaction (a savepoint of `db`).
pub async fn ingest(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    caller: &TenantCaller,
    deps: Deps<'_>,
    request: IngestRequest,
) -> AppResult<IngestOutcome> {
    let chunking = check_call(&request, deps)?;
    let prepared = prepare(&request, &chunking, deps)?;
    let model = model_of(&request, &prepared, deps)?;

    let tx = db.begin().await?;
    let workspace = writable_workspace(&tx, caller, request.workspace_id).await?;
    replace_other_chunkings(&tx, caller, workspace.id, &prepared).await?;
    let hashes: Vec<String> = prepared.iter().map(|p| p.hash.clone()).collect();
    drop_failed(&tx, caller, workspace.id, &hashes).await?;
    let mut ids_by_hash = existing_ids(&tx, workspace.id, &hashes).await?;
    let new = dedupe(&prepared, &ids_by_hash);
    if !new.is_empty() {
        check_model(&tx, workspace.id, &model).await?;
        usage::ensure_within(&tx, caller.tenant_id, QuotaMetric::DocumentsIngested, new.len() as i64).await?;
    }
    let pending = new.iter().filter(|p| p.embedding.is_none()).count();
    let job = match pending {
        0 => None,
        _ => Some(indexing::create(&tx, caller, workspace.id, &model).await?),
    };
    let (vectors, tokens) = embed(&tx, caller, deps, &new).await?;
    let job_id = job.as_ref().map(|j| j.id);
    let added = insert(&tx, caller, &workspace, &model, &new, vectors, job_id).await?;
    let job = match job_id {
        Some(id) => Some(indexing::settle(&tx, caller, id, tokens).await?),
        None => None,
    };

    ids_by_hash.extend(added.iter().map(|row| (row.content_hash.clone(), row.id)));
    // Chunks a concurrent call wrote first.
    let missing: Vec<String> = hashes
        .iter()
        .filter(|h| !ids_by_hash.contains_key(*h))
        .cloned()
        .collect();
    if !missing.is_empty() {
        ids_by_hash.extend(existing_ids(&tx, workspace.id, &missing).await?);
    }
    let results = tally(&request, &prepared, &ids_by_hash, &added)?;

    let documents = Decimal::from(added.len() as u64);
    usage::add(&tx, caller.tenant_id, QuotaMetric::DocumentsIngested, documents).await?;
    usage::add(
        &tx,
        caller.tenant_id,
        QuotaMetric::EmbeddingTokens,
        Decimal::from(tokens),
    )
    .await?;
    tx.commit().await?;
    Ok(IngestOutcome {
        skipped: prepared.len() - added.len(),
        added,
        results,
        embedding_tokens: tokens,
        embedding_model: model,
        job,
    })
}

/// The call's own limits: some documents, not too many; the chunking.
fn check_call(request: &IngestRequest, deps: Deps<'_>) -> AppResult<Chunking> {
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
    deps.chunking
        .chunking(request.chunking)
        .map_err(|(field, msg)| AppError::bad_input(field, msg))
}

/// Checks and splits every document before the database is touched.
fn prepare(request: &IngestRequest, chunking: &Chunking, deps: Deps<'_>) -> AppResult<Vec<Prepared>> {
    let mut prepared: Vec<Prepared> = Vec::new();
    for (i, doc) in request.documents.iter().enumerate() {
        prepared.extend(prepare_document(i, doc, chunking, deps)?);
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
    Ok(prepared)
}

/// One document's chunks; errors name the field (`documents[3].title`).
fn prepare_document(i: usize, doc: &NewDocument, chunking: &Chunking, deps: Deps<'_>) -> AppResult<Vec<Prepared>> {
    let field = |name: &str| format!("documents[{i}].{name}");
    let source_path = validate::name(&field("sourcePath"), &doc.source_path, 1000)?;
    let extracted = match &doc.content {
        DocumentBody::Text(text) => Cow::Owned(ingest::extract::from_content(&source_path, text)),
        DocumentBody::File(extracted) => Cow::Borrowed(extracted),
    };
    let title = match (&doc.title, &extracted.title) {
        (Some(t), _) => validate::name(&field("title"), t, 500)?,
        (None, Some(declared)) => declared.chars().take(500).collect(),
        (None, None) => default_title(&source_path),
    };
    let language = match &doc.language {
        Some(l) => validate::language(&field("language"), l)?,
        None => ingest::detect_language(extracted.sections.first().map_or("", |s| s.text.as_str())).to_owned(),
    };
    let metadata = validate::json_object(
        &field("metadata"),
        doc.metadata.clone().unwrap_or_else(|| serde_json::json!({})),
    )?;
    let chunks = ingest::chunk_sections(&extracted.sections, chunking);
    if chunks.is_empty() {
        return Err(AppError::bad_input(field("content"), "the content is empty"));
    }
    let embedding = match &doc.embedding {
        Some(given) if chunks.len() > 1 => {
            return Err(AppError::bad_input(
                given.field(&field("")),
                format!(
                    "the content splits into {} chunks of at most {} {}; an embedding can only be given for \
                     content that is one chunk (raise the chunk size or split it yourself)",
                    chunks.len(),
                    chunking.max,
                    chunking.unit()
                ),
            ));
        }
        Some(given) => Some(given.vector(&field(""), deps.embedder)?),
        None => None,
    };
    let (count, rules) = (chunks.len() as i32, chunking.describe());
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| Prepared {
            doc: i,
            source_path: source_path.clone(),
            title: title.clone(),
            hash: ingest::content_hash(&chunk.text),
            token_count: token_count(&chunk.text, chunking),
            content: chunk.text,
            language: language.clone(),
            chunk_index: index as i32,
            chunk_count: count,
            metadata: metadata.clone(),
            embedding: embedding.clone(),
            section: chunk.section,
            source_format: extracted.format.as_str(),
            source_encoding: extracted.encoding,
            chunking: rules.clone(),
        })
        .collect())
}

/// Tokens of a chunk: counted by the model's tokenizer when chunks are
/// sized in tokens, else estimated.
fn token_count(text: &str, chunking: &Chunking) -> i32 {
    let n = match &chunking.measure {
        Measure::Tokens(t) => t.count(text) as u64,
        Measure::Chars => estimate_tokens(text),
    };
    n.min(i32::MAX as u64) as i32
}

/// Deletes the workspace's `FAILED` chunks with these texts, so ingesting
/// them again embeds them again instead of skipping them.
async fn drop_failed(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    workspace_id: Uuid,
    hashes: &[String],
) -> AppResult<()> {
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM screenplay.code_documents WHERE tenant_id = $1 AND workspace_id = $2 \
         AND content_hash = ANY($3) AND status = 'FAILED'",
        [caller.tenant_id.into(), workspace_id.into(), hashes.to_vec().into()],
    ))
    .await?;
    Ok(())
}

/// Deletes the chunks of these sources that were cut under other chunking
/// rules (or before rules were recorded): re-ingesting a source with new
/// rules replaces it rather than adding a second, overlapping set.
async fn replace_other_chunkings(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    workspace_id: Uuid,
    prepared: &[Prepared],
) -> AppResult<()> {
    let Some(rules) = prepared.first().map(|p| p.chunking.clone()) else {
        return Ok(());
    };
    let paths: Vec<String> = prepared
        .iter()
        .map(|p| p.source_path.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM screenplay.code_documents WHERE tenant_id = $1 AND workspace_id = $2 \
         AND source_path = ANY($3) AND chunking IS DISTINCT FROM $4",
        [caller.tenant_id.into(), workspace_id.into(), paths.into(), rules.into()],
    ))
    .await?;
    Ok(())
}

/// The model the call's vectors come from: the client's when it sent
/// vectors (then every document needs one, unless it names the server's
/// model), else the server's.
fn model_of(request: &IngestRequest, prepared: &[Prepared], deps: Deps<'_>) -> AppResult<String> {
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
    let any_client = prepared.iter().any(|p| p.embedding.is_some());
    let any_server = request.documents.iter().any(|d| d.embedding.is_none());
    if any_client && any_server && client_model != server_model {
        return Err(AppError::bad_input(
            "embeddingModel",
            format!(
                "documents without an embedding are embedded with the server's model `{server_model}`; with \
                 `embeddingModel` `{client_model}` every document needs an embedding"
            ),
        ));
    }
    Ok(if any_client { client_model } else { server_model })
}

/// The chunks to write: not in the workspace yet, and each text once.
fn dedupe<'p>(prepared: &'p [Prepared], existing: &HashMap<String, Uuid>) -> Vec<&'p Prepared> {
    let mut seen: HashSet<&str> = HashSet::new();
    prepared
        .iter()
        .filter(|p| !existing.contains_key(&p.hash) && seen.insert(p.hash.as_str()))
        .collect()
}

/// The vectors known now: the client's, and (a local embedder only) the
/// embedder's; `None` leaves a chunk `PENDING` for its job. Checked against
/// the tenant's embedding quota either way; returns the tokens counted now.
async fn embed(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    deps: Deps<'_>,
    new: &[&Prepared],
) -> AppResult<(Vec<Option<Vec<f32>>>, u64)> {
    let mut vectors: Vec<Option<Vec<f32>>> = new.iter().map(|p| p.embedding.clone()).collect();
    let to_embed: Vec<usize> = (0..new.len()).filter(|&i| vectors[i].is_none()).collect();
    if to_embed.is_empty() {
        return Ok((vectors, 0));
    }
    let estimate: u64 = to_embed.iter().map(|&i| estimate_tokens(&new[i].content)).sum();
    usage::ensure_within(tx, caller.tenant_id, QuotaMetric::EmbeddingTokens, estimate as i64).await?;
    if !deps.embedder.is_local() {
        return Ok((vectors, 0));
    }
    let texts: Vec<String> = to_embed.iter().map(|&i| new[i].content.clone()).collect();
    let embedded = deps.embedder.embed(&texts).await.map_err(embedding_failed)?;
    if embedded.vectors.len() != texts.len() {
        return Err(AppError::internal(anyhow::anyhow!("the embedder lost vectors")));
    }
    for (&i, v) in to_embed.iter().zip(embedded.vectors) {
        vectors[i] = Some(v);
    }
    Ok((vectors, embedded.tokens))
}

/// Writes the new chunks in batches; returns the rows written (a chunk a
/// concurrent call wrote first is not among them). A chunk with a vector is
/// `READY` with its vector in the row; one without is `PENDING`, for `job`.
async fn insert(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    workspace: &workspaces::Model,
    model: &str,
    new: &[&Prepared],
    vectors: Vec<Option<Vec<f32>>>,
    job: Option<Uuid>,
) -> AppResult<Vec<DocumentRow>> {
    let ids: Vec<Uuid> = new.iter().map(|_| Uuid::now_v7()).collect();
    let ready: Vec<bool> = vectors.iter().map(Option::is_some).collect();
    let mut row_vectors = vectors.into_iter();
    let mut added: Vec<DocumentRow> = Vec::with_capacity(new.len());
    for (n, batch) in new.chunks(INSERT_BATCH).enumerate() {
        let start = n * INSERT_BATCH;
        let rows = batch
            .iter()
            .enumerate()
            .zip(row_vectors.by_ref())
            .map(|((k, p), vector)| {
                let state = RowState {
                    ready: ready[start + k],
                    job: job.filter(|_| p.embedding.is_none()),
                };
                row_json(ids[start + k], caller, workspace, p, vector, model, state)
            })
            .collect();
        added.extend(crate::db::rows::all_raw::<DocumentRow>(tx, insert_statement(rows)).await?);
    }
    Ok(added)
}

/// Whether a new row is searchable yet, and the job that embeds it (none
/// for a client's vector).
#[derive(Clone, Copy)]
struct RowState {
    ready: bool,
    job: Option<Uuid>,
}

/// One new row as `jsonb_populate_recordset` reads it (a client's vector
/// in pgvector's text form).
fn row_json(
    id: Uuid,
    caller: &TenantCaller,
    workspace: &workspaces::Model,
    p: &Prepared,
    inline_vector: Option<Vec<f32>>,
    model: &str,
    state: RowState,
) -> serde_json::Value {
    let model = inline_vector.as_ref().map(|_| model);
    serde_json::json!({
        "id": id, "tenant_id": caller.tenant_id, "workspace_id": workspace.id,
        "source_path": p.source_path, "title": p.title, "content": p.content, "content_hash": p.hash,
        "language": p.language, "chunk_index": p.chunk_index, "chunk_count": p.chunk_count,
        "metadata": p.metadata, "embedding": inline_vector.as_deref().map(vector_literal),
        "embedding_model": model, "token_count": p.token_count, "created_by": caller.user_id,
        "section": p.section, "source_format": p.source_format, "source_encoding": p.source_encoding,
        "chunking": p.chunking, "status": if state.ready { "READY" } else { "PENDING" },
        "ingestion_job_id": state.job,
    })
}

/// The new rows in one INSERT of one shape whatever their number ([`batch::insert_rows`]).
fn insert_statement(rows: Vec<serde_json::Value>) -> Statement {
    const INSERTED: &str = "id, tenant_id, workspace_id, source_path, title, content, content_hash, language, \
                            chunk_index, chunk_count, metadata, embedding, embedding_model, token_count, \
                            created_by, section, source_format, source_encoding, chunking, status, ingestion_job_id";
    batch::insert_rows(
        "screenplay.code_documents",
        INSERTED,
        rows,
        &format!(
            "ON CONFLICT (workspace_id, content_hash) DO NOTHING RETURNING {}",
            *COLUMNS
        ),
    )
}

/// What happened to each input document: its chunks' ids, added or skipped.
fn tally(
    request: &IngestRequest,
    prepared: &[Prepared],
    ids_by_hash: &HashMap<String, Uuid>,
    added: &[DocumentRow],
) -> AppResult<Vec<IngestResult>> {
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
    for p in prepared {
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
    Ok(results)
}

/// The last segment of a source path.
fn default_title(source_path: &str) -> String {
    let name = source_path
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_path);
    let name = if name.is_empty() { source_path } else { name };
    name.chars().take(500).collect()
}

/// The ids of the workspace's chunks with these hashes.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_default_to_file_names() {
        assert_eq!(default_title("scripts/act1/opening.fountain"), "opening.fountain");
        assert_eq!(default_title("notes"), "notes");
        assert_eq!(default_title("dir/"), "dir");
    }
}
