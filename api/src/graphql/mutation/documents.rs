use std::io::Read;

use async_graphql::{Context, InputObject, Json, Object, SimpleObject, Upload};
use uuid::Uuid;

use crate::{
    auth::Action,
    error::AppError,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{Document, IngestResult, IngestionJob},
    },
    ingest::{ChunkRequest, extract},
    service::{
        documents::{self, ClientEmbedding, DocumentChange},
        ingestion::{self, DocumentBody, IngestRequest, NewDocument},
    },
};

/// One document to ingest: `content` (text; Markdown and HTML recognised
/// by `sourcePath`), or an uploaded `file` (GraphQL multipart request):
/// PDF, DOCX, HTML, Markdown or text in any common encoding.
#[derive(InputObject)]
pub struct DocumentInput {
    pub source_path: String,
    /// Defaults to the title the file declares (HTML), else the file name of `sourcePath`.
    pub title: Option<String>,
    pub content: Option<String>,
    pub file: Option<Upload>,
    /// ISO 639-1 code (`en`, `zh`, …); guessed from the text when omitted.
    pub language: Option<String>,
    pub metadata: Option<Json<serde_json::Value>>,
    /// A precomputed embedding (1536 floats) of content that is one chunk.
    pub embedding: Option<Vec<f64>>,
    /// The same as base64 of little-endian float32 values (OpenAI's
    /// `encoding_format: "base64"`): instead of `embedding`, and cheaper.
    pub embedding_base64: Option<String>,
}

/// How long content is split: in characters, or in tokens of the
/// embedding model's tokenizer. Omitted: the server's default (tokens when
/// it knows the model's tokenizer, else 2000 characters).
#[derive(InputObject)]
pub struct ChunkingInput {
    /// Largest chunk in characters (100 to 20000, default 2000).
    pub max_chars: Option<i32>,
    /// Characters repeated from the end of the previous chunk (default 200).
    pub overlap: Option<i32>,
    /// Largest chunk in tokens (16 to the model's limit; default SCREENPLAY_CHUNK_TOKENS).
    pub max_tokens: Option<i32>,
    /// Tokens repeated from the end of the previous chunk.
    pub overlap_tokens: Option<i32>,
}

#[derive(InputObject)]
pub struct IngestDocumentsInput {
    pub workspace_id: Uuid,
    pub documents: Vec<DocumentInput>,
    pub chunking: Option<ChunkingInput>,
    /// The model of the given embeddings; defaults to the server's.
    pub embedding_model: Option<String>,
}

#[derive(SimpleObject)]
pub struct IngestDocumentsPayload {
    /// The chunks written by this call.
    pub documents: Vec<Document>,
    /// Chunks written.
    pub added: i32,
    /// Chunks already in the workspace (same content), not written again.
    pub skipped: i32,
    /// Tokens the embedding provider counted during this call (a local
    /// embedder embeds at once; a provider's tokens are counted by `job`).
    pub embedding_tokens: i64,
    /// The background job embedding the new chunks (`null` when no chunk
    /// needs a vector): follow it with `ingestionJob` or `ingestionProgress`.
    pub job: Option<IngestionJob>,
    /// The model of the stored embeddings.
    pub embedding_model: String,
    /// One entry per input document, in input order.
    pub results: Vec<IngestResult>,
}

#[derive(InputObject)]
pub struct UpdateDocumentInput {
    pub id: Uuid,
    pub source_path: Option<String>,
    pub title: Option<String>,
    pub language: Option<String>,
    pub metadata: Option<Json<serde_json::Value>>,
    /// New text for this chunk; re-hashed and re-embedded.
    pub content: Option<String>,
    /// A precomputed embedding of the (new) content.
    pub embedding: Option<Vec<f64>>,
    /// The same as base64 of little-endian float32 values (OpenAI's
    /// `encoding_format: "base64"`): instead of `embedding`, and cheaper.
    pub embedding_base64: Option<String>,
    pub embedding_model: Option<String>,
}

#[derive(SimpleObject)]
pub struct DocumentPayload {
    pub document: Document,
}

#[derive(SimpleObject)]
pub struct DeleteDocumentsPayload {
    pub deleted_ids: Vec<Uuid>,
    pub deleted_count: i32,
}

fn size(field: &str, value: Option<i32>) -> Result<Option<usize>, AppError> {
    match value {
        Some(v) if v < 0 => Err(AppError::bad_input(field, format!("`{field}` must not be negative"))),
        other => Ok(other.map(|v| v as usize)),
    }
}

/// An uploaded file's text, extracted off the async workers, two at a time
/// server-wide (a PDF takes CPU); the format comes from its content and its
/// name (else `sourcePath`).
async fn upload_body(ctx: &Context<'_>, i: usize, source_path: &str, file: Upload) -> Result<DocumentBody, AppError> {
    let field = format!("documents[{i}].file");
    let unreadable = |e: std::io::Error| AppError::bad_input(field.clone(), format!("cannot read the upload: {e}"));
    let mut value = file.value(ctx).map_err(&unreadable)?;
    let mut bytes = Vec::new();
    value.content.read_to_end(&mut bytes).map_err(&unreadable)?;
    let filename = value.filename;
    let name = if filename.contains('.') {
        filename.clone()
    } else {
        source_path.to_owned()
    };
    let extracted = extract::extract_bounded(name, bytes)
        .await
        .map_err(|reason| AppError::bad_input(field.clone(), format!("`{filename}`: {reason}")))?;
    Ok(DocumentBody::File(extracted))
}

#[derive(Default)]
pub struct DocumentMutation;

#[Object]
impl DocumentMutation {
    /// Extracts, splits and stores documents in one short transaction and
    /// returns; their chunks are embedded by a background job (`job`) and
    /// searchable once `READY`. Chunks whose text the workspace already
    /// holds are skipped.
    #[graphql(guard = "Allow(Action::WriteDocuments)")]
    async fn ingest_documents(
        &self,
        ctx: &Context<'_>,
        input: IngestDocumentsInput,
    ) -> async_graphql::Result<IngestDocumentsPayload> {
        let mut docs = Vec::with_capacity(input.documents.len());
        for (i, doc) in input.documents.into_iter().enumerate() {
            let content = match (doc.content, doc.file) {
                (Some(content), None) => DocumentBody::Text(content),
                (None, Some(file)) => upload_body(ctx, i, &doc.source_path, file).await?,
                _ => {
                    return Err(AppError::bad_input(
                        format!("documents[{i}].content"),
                        "give `content` or `file`, exactly one",
                    )
                    .into());
                }
            };
            docs.push(NewDocument {
                source_path: doc.source_path,
                title: doc.title,
                content,
                language: doc.language,
                metadata: doc.metadata.map(|m| m.0),
                embedding: ClientEmbedding::from_input(
                    &format!("documents[{i}]."),
                    doc.embedding,
                    doc.embedding_base64,
                )?,
            });
        }
        let chunking = match input.chunking {
            Some(c) => ChunkRequest {
                max_chars: size("maxChars", c.max_chars)?,
                overlap: size("overlap", c.overlap)?,
                max_tokens: size("maxTokens", c.max_tokens)?,
                overlap_tokens: size("overlapTokens", c.overlap_tokens)?,
            },
            None => ChunkRequest::default(),
        };
        let (tx, caller) = ctx.scope().tenant().await?;
        let outcome = ingestion::ingest(
            &*tx,
            &caller,
            ctx.app().document_deps(),
            IngestRequest {
                workspace_id: input.workspace_id,
                documents: docs,
                chunking,
                embedding_model: input.embedding_model,
            },
        )
        .await?;
        ctx.scope()
            .note_resources("document", outcome.added.iter().map(|d| d.id));
        Ok(IngestDocumentsPayload {
            added: outcome.added.len() as i32,
            skipped: outcome.skipped as i32,
            embedding_tokens: outcome.embedding_tokens.min(i64::MAX as u64) as i64,
            embedding_model: outcome.embedding_model,
            results: outcome.results.into_iter().map(Into::into).collect(),
            job: outcome.job.map(Into::into),
            documents: outcome.added.into_iter().map(Into::into).collect(),
        })
    }

    /// Changes one document chunk; new content is re-embedded.
    #[graphql(guard = "Allow(Action::WriteDocuments)")]
    async fn update_document(
        &self,
        ctx: &Context<'_>,
        input: UpdateDocumentInput,
    ) -> async_graphql::Result<DocumentPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, after) = documents::update(
            &*tx,
            &caller,
            ctx.app().document_deps(),
            input.id,
            DocumentChange {
                source_path: input.source_path,
                title: input.title,
                language: input.language,
                metadata: input.metadata.map(|m| m.0),
                content: input.content,
                embedding: ClientEmbedding::from_input("", input.embedding, input.embedding_base64)?,
                embedding_model: input.embedding_model,
            },
        )
        .await?;
        ctx.scope()
            .note_change("document", after.id, Some(&before), Some(&after));
        Ok(DocumentPayload { document: after.into() })
    }

    /// Deletes document chunks: all of them, or none when one is not found.
    #[graphql(guard = "Allow(Action::WriteDocuments)")]
    async fn delete_documents(
        &self,
        ctx: &Context<'_>,
        ids: Vec<Uuid>,
    ) -> async_graphql::Result<DeleteDocumentsPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let deleted = documents::delete(&*tx, &caller, &ids).await?;
        let ids: Vec<Uuid> = deleted.iter().map(|d| d.id).collect();
        ctx.scope().note_resources("document", ids.iter().copied());
        Ok(DeleteDocumentsPayload {
            deleted_count: ids.len() as i32,
            deleted_ids: ids,
        })
    }
}
