//! `screenplay ingest --workspace ID PATH…`: PDF, Word, HTML, Markdown,
//! Fountain, text and source files into a workspace, in batches (one
//! transaction each), with a progress bar and a summary of what was added,
//! which files were left out and why, and why files failed.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::{
    app::database as setup,
    auth::TenantCaller,
    config::{DatabaseArgs, EmbeddingArgs, IngestConfig},
    db::Db,
    domain::TenantId,
    embedding,
    error::AppError,
    ingest::{ChunkPolicy, ChunkRequest, files},
    search::{PgVectorStore, ResidentVectors, SharedVectorStore, WorkspaceSizes},
    service::{
        documents::Deps,
        indexing::{Indexer, IndexerSettings},
        ingestion::{self, DocumentBody, IngestRequest, NewDocument},
    },
};

#[derive(Debug, clap::Args)]
pub struct IngestCommand {
    /// The workspace (id) to ingest into.
    #[arg(long)]
    pub workspace: Uuid,

    /// Files and folders; folders are walked (with .gitignore rules) for
    /// PDF, DOCX, HTML, Markdown, Fountain, text and source files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Files per transaction.
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,

    /// Largest chunk in characters.
    #[arg(long)]
    pub max_chars: Option<usize>,

    /// Characters repeated from the end of the previous chunk.
    #[arg(long)]
    pub overlap: Option<usize>,

    /// Largest chunk in tokens of the embedding model's tokenizer.
    #[arg(long)]
    pub max_tokens: Option<usize>,

    /// Tokens repeated from the end of the previous chunk.
    #[arg(long)]
    pub overlap_tokens: Option<usize>,

    /// Language of every file (default: guessed per file).
    #[arg(long)]
    pub language: Option<String>,

    #[command(flatten)]
    pub embedding: EmbeddingArgs,
}

/// What a run did.
#[derive(Debug, Default)]
struct Summary {
    files: usize,
    added: usize,
    skipped: usize,
    tokens: u64,
    /// Jobs embedding the chunks added.
    jobs: Vec<Uuid>,
    /// Left out by a rule (hidden, ignored, unsupported type).
    left_out: Vec<(String, String)>,
    failed: Vec<(String, String)>,
}

pub async fn run(cmd: IngestCommand, db_args: DatabaseArgs) -> anyhow::Result<()> {
    if cmd.batch_size == 0 || cmd.batch_size > 1000 {
        anyhow::bail!("--batch-size must be between 1 and 1000");
    }
    let embedder = embedding::from_config(&cmd.embedding.config()?)?;
    let chunking = ChunkPolicy::load(&cmd.embedding.chunking()?, embedder.model())?;
    let (_, db) = setup::open_for_command(&db_args).await?;
    let tenant_id = workspace_tenant(&db, cmd.workspace).await?;
    let vectors: SharedVectorStore = Arc::new(PgVectorStore);
    let sizes = WorkspaceSizes::default();
    let resident = ResidentVectors::disabled();
    let deps = Deps {
        embedder: embedder.as_ref(),
        vectors: vectors.as_ref(),
        sizes: &sizes,
        resident: &resident,
        ingest: IngestConfig {
            max_documents: cmd.batch_size,
            max_chunks: 1_000_000,
            ..IngestConfig::default()
        },
        chunking: &chunking,
        reranker: None,
    };

    let found = files::collect(&cmd.paths);
    let mut summary = Summary::default();
    for (path, reason) in found.failed {
        summary.failed.push((path.display().to_string(), reason));
    }
    for (path, reason) in found.skipped {
        summary.left_out.push((path.display().to_string(), reason));
    }
    let bar = progress_bar(found.files.len());
    eprintln!(
        "ingesting {} file(s) into workspace {} with embedding model {}",
        found.files.len(),
        cmd.workspace,
        embedder.model()
    );
    let caller = TenantCaller::system(tenant_id);
    for batch in found.files.chunks(cmd.batch_size) {
        let docs = read_batch(batch, &cmd, &mut summary, &bar);
        ingest_batch(&db, &caller, deps, &cmd, docs, &mut summary, &bar).await?;
    }
    bar.finish_and_clear();
    let indexer = Indexer::new(
        db.clone(),
        embedder.clone(),
        format!("screenplay-ingest-{}", std::process::id()),
        IndexerSettings::default(),
    );
    embed_jobs(&indexer, &mut summary).await?;
    report(&cmd, &summary)
}

/// The tenant a workspace belongs to (read in the platform role).
async fn workspace_tenant(db: &Db, workspace: Uuid) -> anyhow::Result<TenantId> {
    let tx = db.begin_platform().await?;
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tenant_id FROM screenplay.workspaces WHERE id = $1",
            [workspace.into()],
        ))
        .await?
        .with_context(|| format!("workspace {workspace} does not exist"))?;
    tx.commit().await?;
    Ok(TenantId::from(row.try_get::<Uuid>("", "tenant_id")?))
}

fn progress_bar(files: usize) -> ProgressBar {
    let bar = ProgressBar::new(files as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} files  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// The batch's files as documents; unreadable ones are reported.
fn read_batch(
    batch: &[files::FoundFile],
    cmd: &IngestCommand,
    summary: &mut Summary,
    bar: &ProgressBar,
) -> Vec<(String, NewDocument)> {
    let mut docs = Vec::new();
    for file in batch {
        let name = file.path.display().to_string();
        match files::read(&file.path) {
            Ok(extracted) => docs.push((
                name,
                NewDocument {
                    source_path: file.source_path.clone(),
                    title: None,
                    content: DocumentBody::File(extracted),
                    language: cmd.language.clone(),
                    metadata: None,
                    embedding: None,
                },
            )),
            Err(reason) => {
                summary.failed.push((name, reason));
                bar.inc(1);
            }
        }
    }
    docs
}

/// Ingests one batch, one transaction per attempt: a document the service
/// refuses is reported and the rest retried.
async fn ingest_batch(
    db: &Db,
    caller: &TenantCaller,
    deps: Deps<'_>,
    cmd: &IngestCommand,
    mut docs: Vec<(String, NewDocument)>,
    summary: &mut Summary,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    while !docs.is_empty() {
        let tx = db.begin_tenant(caller.tenant_id).await?;
        let request = IngestRequest {
            workspace_id: cmd.workspace,
            documents: docs.iter().map(|(_, d)| d.clone()).collect(),
            chunking: ChunkRequest {
                max_chars: cmd.max_chars,
                overlap: cmd.overlap,
                max_tokens: cmd.max_tokens,
                overlap_tokens: cmd.overlap_tokens,
            },
            embedding_model: None,
        };
        match ingestion::ingest(&tx, caller, deps, request).await {
            Ok(outcome) => {
                tx.commit().await?;
                summary.files += docs.len();
                summary.added += outcome.added.len();
                summary.skipped += outcome.skipped;
                summary.tokens += outcome.embedding_tokens;
                summary
                    .jobs
                    .extend(outcome.job.filter(|j| !j.is_finished()).map(|j| j.id));
                bar.inc(docs.len() as u64);
                bar.set_message(format!("{} chunks added, {} skipped", summary.added, summary.skipped));
                docs.clear();
            }
            Err(err) => {
                tx.rollback().await?;
                let refused = match document_index(&err).filter(|&i| i < docs.len()) {
                    Some(i) => vec![docs.remove(i)],
                    None => std::mem::take(&mut docs),
                };
                for (name, _) in refused {
                    summary.failed.push((name, err.message()));
                    bar.inc(1);
                }
            }
        }
    }
    Ok(())
}

/// Embeds the chunks of the run's jobs here (unless a server's worker took
/// a job first), with a progress bar of the jobs' chunks.
async fn embed_jobs(indexer: &Indexer, summary: &mut Summary) -> anyhow::Result<()> {
    if summary.jobs.is_empty() {
        return Ok(());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} embedding [{bar:40}] {pos}/{len} chunks  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let jobs = indexer
        .finish(&summary.jobs, |jobs| {
            bar.set_length(jobs.iter().map(|j| j.total_chunks as u64).sum());
            bar.set_position(jobs.iter().map(|j| (j.ready_chunks + j.failed_chunks) as u64).sum());
        })
        .await?;
    bar.finish_and_clear();
    for job in jobs {
        summary.tokens += job.embedding_tokens.max(0) as u64;
        if job.failed_chunks > 0 {
            let reason = job.last_error.unwrap_or_default();
            summary.failed.push((
                format!("job {}", job.id),
                format!("{} chunk(s) failed to embed: {reason}", job.failed_chunks),
            ));
        }
    }
    Ok(())
}

/// Prints what the run did; fails when a file failed.
fn report(cmd: &IngestCommand, summary: &Summary) -> anyhow::Result<()> {
    println!(
        "{} file(s) ingested into workspace {}: {} chunk(s) added, {} skipped (already present), {} embedding token(s)",
        summary.files, cmd.workspace, summary.added, summary.skipped, summary.tokens
    );
    if !summary.left_out.is_empty() {
        println!("{} path(s) left out:", summary.left_out.len());
        for (name, reason) in &summary.left_out {
            println!("  {name}: {reason}");
        }
    }
    if summary.failed.is_empty() {
        return Ok(());
    }
    println!("{} failed:", summary.failed.len());
    for (name, reason) in &summary.failed {
        println!("  {name}: {reason}");
    }
    anyhow::bail!("{} path(s) failed", summary.failed.len())
}

/// The input document a `documents[i].…` error names.
fn document_index(err: &AppError) -> Option<usize> {
    match err {
        AppError::BadInput { field, .. } => field
            .strip_prefix("documents[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|i| i.parse().ok()),
        _ => None,
    }
}
