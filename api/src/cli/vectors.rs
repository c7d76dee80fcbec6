//! `screenplay vectors migrate --to milvus|pgvector` and `screenplay
//! vectors verify`: moving vector search between pgvector and Milvus while
//! servers keep serving.
//!
//! PostgreSQL keeps every vector either way. `--to milvus` starts the
//! mirror (outbox triggers on, every stored vector queued, atomically) and
//! drains the outbox into Milvus with a progress bar; interrupted, it
//! resumes from the outbox. Servers then switch with
//! `SCREENPLAY_VECTOR_STORE=milvus`. `--to pgvector` stops the mirror once
//! servers search pgvector again.

use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    app::database as setup,
    config::{DatabaseArgs, VectorStoreArgs},
    db::connect_for_migrations,
    search::Milvus,
    service::vector_sync::{self, Difference, Verification},
};

#[derive(Debug, clap::Subcommand)]
pub enum VectorsAction {
    /// Copy the vectors to Milvus and keep it in step (`--to milvus`), or
    /// stop mirroring once servers search pgvector again (`--to pgvector`).
    Migrate {
        /// `milvus` or `pgvector`.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        store: VectorStoreArgs,
    },
    /// Compare vector counts per workspace and a random sample of vectors
    /// between PostgreSQL and Milvus; exits 1 on any difference.
    Verify {
        /// Vectors compared one by one.
        #[arg(long, default_value_t = 200)]
        sample: u32,
        #[command(flatten)]
        store: VectorStoreArgs,
    },
}

pub async fn run(action: VectorsAction, db_args: DatabaseArgs) -> anyhow::Result<()> {
    match action {
        VectorsAction::Migrate { to, store } => match to.trim().to_ascii_lowercase().as_str() {
            "milvus" => to_milvus(&store, &db_args).await,
            "pgvector" => to_pgvector(&db_args).await,
            other => anyhow::bail!("--to must be `milvus` or `pgvector`, not `{other}`"),
        },
        VectorsAction::Verify { sample, store } => verify(&store, &db_args, sample).await,
    }
}

async fn milvus(store: &VectorStoreArgs) -> anyhow::Result<Milvus> {
    let config = store.config()?;
    let Some(settings) = config.milvus else {
        anyhow::bail!("set SCREENPLAY_MILVUS_URL (e.g. http://127.0.0.1:19530)");
    };
    Milvus::connect(&settings).await
}

async fn to_milvus(store: &VectorStoreArgs, db_args: &DatabaseArgs) -> anyhow::Result<()> {
    let milvus = milvus(store).await?;
    let (database, db) = setup::open_for_command(db_args).await?;
    let owner = connect_for_migrations(database.migration_url.expose()).await?;
    let queued = vector_sync::start_mirror(&owner).await?;
    let pending = vector_sync::status(db.conn()).await?.pending;
    if queued > 0 {
        eprintln!(
            "mirroring to Milvus collection {}: {queued} vector(s) queued",
            milvus.collection()
        );
    } else {
        eprintln!("resuming: {pending} change(s) still to copy to Milvus");
    }
    let bar = ProgressBar::new(pending.max(0) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} vectors  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let total = pending.max(0) as u64;
    vector_sync::drain_all(&db, &milvus, |left| {
        bar.set_length(total.max(left.max(0) as u64));
        bar.set_position(total.saturating_sub(left.max(0) as u64));
    })
    .await?;
    bar.finish_and_clear();
    vector_sync::mark_copied(&owner).await?;
    owner.close().await?;
    db.close().await;
    println!(
        "Milvus holds every vector and stays in step through the outbox.\n\
         Next: `screenplay vectors verify`, then restart the servers with SCREENPLAY_VECTOR_STORE=milvus."
    );
    Ok(())
}

async fn to_pgvector(db_args: &DatabaseArgs) -> anyhow::Result<()> {
    let (database, db) = setup::open_for_command(db_args).await?;
    let owner = connect_for_migrations(database.migration_url.expose()).await?;
    vector_sync::stop_mirror(&owner).await?;
    owner.close().await?;
    db.close().await;
    println!(
        "Vectors are in pgvector only; Milvus no longer receives changes (its collection is left as it is).\n\
         Servers must run with SCREENPLAY_VECTOR_STORE=pgvector (the default): a Milvus server now refuses to start."
    );
    Ok(())
}

async fn verify(store: &VectorStoreArgs, db_args: &DatabaseArgs, sample: u32) -> anyhow::Result<()> {
    let milvus = milvus(store).await?;
    let (_, db) = setup::open_for_command(db_args).await?;
    let status = vector_sync::status(db.conn()).await?;
    let report = vector_sync::verify(&db, &milvus, sample.clamp(1, 10_000)).await?;
    db.close().await;
    print_report(&report);
    if status.pending > 0 {
        eprintln!(
            "note: {} change(s) wait in the outbox ({:.1} s old); differences may be that lag",
            status.pending, status.lag_seconds
        );
    }
    if !report.differences.is_empty() {
        anyhow::bail!(
            "{} difference(s) between PostgreSQL and Milvus",
            report.differences.len()
        );
    }
    Ok(())
}

fn print_report(report: &Verification) {
    println!(
        "{} workspace(s), {} vector(s) in PostgreSQL; {} sampled vector(s) compared",
        report.workspaces, report.vectors, report.sampled
    );
    for difference in &report.differences {
        match difference {
            Difference::Count {
                workspace_id,
                postgres,
                milvus,
            } => println!("workspace {workspace_id}: {postgres} in PostgreSQL, {milvus} in Milvus"),
            Difference::Missing { id } => println!("document {id}: not in Milvus"),
            Difference::Changed { id, what } => println!("document {id}: {what} differs in Milvus"),
        }
    }
    if report.differences.is_empty() {
        println!("no differences");
    }
}
