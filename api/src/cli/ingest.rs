//! `screenplay ingest --workspace ID PATH…`: text, Markdown, Fountain and
//! source files into a workspace, in batches (one transaction each), with a
//! progress bar and a summary of what was added, skipped and why files failed.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::{
    config::{DatabaseArgs, EmbeddingArgs, IngestConfig},
    embedding,
    error::AppError,
    ingest::files,
    search::PgVectorStore,
    service::documents::{self, Author, Deps, IngestRequest, NewDocument},
    startup,
};

#[derive(Debug, clap::Args)]
pub struct IngestCommand {
    /// The workspace (id) to ingest into.
    #[arg(long)]
    pub workspace: Uuid,

    /// Files and folders; folders are walked for text, Markdown, Fountain and source files.
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
    failed: Vec<(String, String)>,
}

pub async fn run(cmd: IngestCommand, db_args: DatabaseArgs) -> anyhow::Result<()> {
    if cmd.batch_size == 0 || cmd.batch_size > 1000 {
        anyhow::bail!("--batch-size must be between 1 and 1000");
    }
    let embedder = embedding::from_config(&cmd.embedding.config()?)?;
    let (_, db) = startup::open_for_command(&db_args).await?;

    let tx = db.begin_platform().await?;
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tenant_id FROM screenplay.workspaces WHERE id = $1",
            [cmd.workspace.into()],
        ))
        .await?
        .with_context(|| format!("workspace {} does not exist", cmd.workspace))?;
    let tenant_id: Uuid = row.try_get("", "tenant_id")?;
    tx.commit().await?;
    let author = Author {
        tenant_id,
        user_id: None,
    };
    let vectors = PgVectorStore;
    let deps = Deps {
        embedder: embedder.as_ref(),
        vectors: &vectors,
        ingest: IngestConfig {
            max_documents: cmd.batch_size,
            max_chunks: 1_000_000,
        },
    };

    let found = files::collect(&cmd.paths);
    let mut summary = Summary::default();
    for (path, reason) in found.failed {
        summary.failed.push((path.display().to_string(), reason));
    }
    let bar = ProgressBar::new(found.files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} files  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    eprintln!(
        "ingesting {} file(s) into workspace {} with embedding model {}",
        found.files.len(),
        cmd.workspace,
        embedder.model()
    );
    for batch in found.files.chunks(cmd.batch_size) {
        let mut docs: Vec<(String, NewDocument)> = Vec::new();
        for path in batch {
            let name = path.display().to_string();
            match files::read_text(path) {
                Ok(content) => docs.push((
                    name.clone(),
                    NewDocument {
                        source_path: name,
                        title: None,
                        content,
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
        // A document the service refuses is reported and the rest retried.
        while !docs.is_empty() {
            let tx = db.begin_tenant(tenant_id).await?;
            let request = IngestRequest {
                workspace_id: cmd.workspace,
                documents: docs.iter().map(|(_, d)| d.clone()).collect(),
                max_chars: cmd.max_chars,
                overlap: cmd.overlap,
                embedding_model: None,
            };
            match documents::ingest(&tx, &author, deps, request).await {
                Ok(outcome) => {
                    tx.commit().await?;
                    summary.files += docs.len();
                    summary.added += outcome.added.len();
                    summary.skipped += outcome.skipped;
                    summary.tokens += outcome.embedding_tokens;
                    bar.inc(docs.len() as u64);
                    bar.set_message(format!("{} chunks added, {} skipped", summary.added, summary.skipped));
                    docs.clear();
                }
                Err(err) => {
                    tx.rollback().await?;
                    match document_index(&err).filter(|&i| i < docs.len()) {
                        Some(i) => {
                            let (name, _) = docs.remove(i);
                            summary.failed.push((name, err.message()));
                            bar.inc(1);
                        }
                        None => {
                            for (name, _) in docs.drain(..) {
                                summary.failed.push((name, err.message()));
                                bar.inc(1);
                            }
                        }
                    }
                }
            }
        }
    }
    bar.finish_and_clear();

    println!(
        "{} file(s) ingested into workspace {}: {} chunk(s) added, {} skipped (already present), {} embedding token(s)",
        summary.files, cmd.workspace, summary.added, summary.skipped, summary.tokens
    );
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
