//! The vector outbox drain: brings Milvus to the state of the documents
//! the outbox names, one instance at a time.
//!
//! Each batch runs in one transaction holding a transaction-level advisory
//! lock, so two instances (or a server and `screenplay vectors migrate`)
//! never drain at once. The batch reads each document's *current* row, so
//! an entry replayed after a crash, or a change queued twice, converges to
//! the same Milvus state; the outbox rows are deleted in the same
//! transaction only after Milvus accepted the batch.

use std::{collections::HashMap, sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, prelude::PgVector};
use uuid::Uuid;

use crate::{
    db::Db,
    error::{AppError, AppResult},
    runtime::ShutdownSignal,
    search::{Milvus, MirrorRecord},
};

/// "screenplay vector outbox" as an advisory lock key.
const LOCK_KEY: i64 = 0x5350_5654_4f42_0001;

/// Outbox rows one batch takes.
pub const BATCH: i64 = 256;

/// What one call of [`drain_batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Another session drains now.
    Locked,
    /// Nothing waits.
    Empty,
    /// This many outbox rows were brought to Milvus.
    Synced(usize),
}

/// The mirror's state, as `screenplay.vector_outbox_status()` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxStatus {
    /// `Some("milvus")` while the mirror is on.
    pub mirror: Option<String>,
    /// The first full copy finished.
    pub copied: bool,
    pub pending: i64,
    pub lag_seconds: f64,
}

pub async fn status(db: &impl ConnectionTrait) -> AppResult<OutboxStatus> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT mirror, copied, pending, lag_seconds FROM screenplay.vector_outbox_status()",
        ))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("vector_outbox_status returned no row")))?;
    Ok(OutboxStatus {
        mirror: row.try_get("", "mirror")?,
        copied: row.try_get("", "copied")?,
        pending: row.try_get("", "pending")?,
        lag_seconds: row.try_get("", "lag_seconds")?,
    })
}

/// Brings one batch of the outbox to Milvus.
pub async fn drain_batch(db: &Db, milvus: &Milvus) -> AppResult<Drained> {
    let tx = db.begin_platform().await?;
    let locked = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [LOCK_KEY.into()],
        ))
        .await?
        .map(|r| r.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        return Ok(Drained::Locked);
    }
    let (seqs, upserts, deletes) = read_batch(&tx).await?;
    if seqs.is_empty() {
        return Ok(Drained::Empty);
    }
    let sent = async {
        milvus.upsert(&upserts).await?;
        milvus.delete(&deletes).await
    };
    if let Err(err) = sent.await {
        crate::metrics::vector_outbox_drained(0, true);
        return Err(AppError::internal(anyhow::anyhow!(
            "Milvus refused an outbox batch: {err}"
        )));
    }
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM screenplay.vector_outbox WHERE seq = ANY($1)",
        [seqs.clone().into()],
    ))
    .await?;
    tx.commit().await?;
    crate::metrics::vector_outbox_drained(seqs.len(), false);
    Ok(Drained::Synced(seqs.len()))
}

/// The batch's outbox rows, and per document its current record (upsert)
/// or nothing (delete: gone, not searchable, or without a vector).
async fn read_batch(tx: &impl ConnectionTrait) -> AppResult<(Vec<i64>, Vec<MirrorRecord>, Vec<Uuid>)> {
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT o.seq, o.document_id, o.tenant_id, d.workspace_id, d.embedding_model, d.language, \
               d.source_path, d.metadata, d.embedding \
             FROM (SELECT seq, document_id, tenant_id FROM screenplay.vector_outbox ORDER BY seq LIMIT $1) AS o \
             LEFT JOIN screenplay.code_documents AS d ON d.id = o.document_id AND d.tenant_id = o.tenant_id \
               AND d.status = 'READY' AND d.embedding IS NOT NULL \
             ORDER BY o.seq",
            [BATCH.into()],
        ))
        .await?;
    let mut seqs = Vec::with_capacity(rows.len());
    let mut latest: HashMap<Uuid, Option<MirrorRecord>> = HashMap::new();
    for row in &rows {
        seqs.push(row.try_get::<i64>("", "seq")?);
        let id: Uuid = row.try_get("", "document_id")?;
        let record = match row.try_get::<Option<PgVector>>("", "embedding")? {
            Some(vector) => Some(mirror_record(row, id, vector)?),
            None => None,
        };
        latest.insert(id, record);
    }
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for (id, record) in latest {
        match record {
            Some(r) => upserts.push(r),
            None => deletes.push(id),
        }
    }
    Ok((seqs, upserts, deletes))
}

/// Drains the outbox until `shutdown`: at once while rows wait, every
/// `idle` otherwise, backing off (1 s doubling to 60 s) while Milvus fails.
/// The gauges are refreshed once a second (counting the outbox is not free).
pub async fn run(db: Db, milvus: Arc<Milvus>, idle: Duration, shutdown: ShutdownSignal) {
    let mut backoff = Duration::from_secs(1);
    let mut measured: Option<std::time::Instant> = None;
    while !shutdown.is_set() {
        let pause = match drain_batch(&db, &milvus).await {
            Ok(Drained::Synced(_)) => {
                backoff = Duration::from_secs(1);
                Duration::ZERO
            }
            Ok(Drained::Empty | Drained::Locked) => idle,
            Err(err) => {
                tracing::warn!(error = ?err, retry_in = ?backoff, "vector outbox: batch not synced");
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                wait
            }
        };
        if measured.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            measured = Some(std::time::Instant::now());
            if let Ok(s) = status(db.conn()).await {
                crate::metrics::set_vector_outbox(s.pending, s.lag_seconds);
            }
        }
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.clone().wait() => {}
            }
        }
    }
}

/// Drains until the outbox is empty; `progress` sees about how many rows
/// are left after each batch (counted again every 100 batches). Waits
/// while another session holds the lock.
pub async fn drain_all(db: &Db, milvus: &Milvus, mut progress: impl FnMut(i64)) -> AppResult<()> {
    let mut left = status(db.conn()).await?.pending;
    for batch in 1u64.. {
        match drain_batch(db, milvus).await? {
            Drained::Synced(n) => left = (left - n as i64).max(0),
            Drained::Empty => break,
            Drained::Locked => tokio::time::sleep(Duration::from_millis(200)).await,
        }
        if batch % 100 == 0 || left == 0 {
            left = status(db.conn()).await?.pending;
        }
        progress(left);
    }
    progress(0);
    Ok(())
}

/// Whether `db`'s vectors are mirrored to Milvus; a Milvus store needs it.
pub async fn require_mirror(db: &Db) -> anyhow::Result<()> {
    let s = status(db.conn()).await?;
    match (s.mirror.as_deref(), s.copied) {
        (Some("milvus"), true) => Ok(()),
        (Some("milvus"), false) => anyhow::bail!(
            "the copy of the vectors to Milvus has not finished: run `screenplay vectors migrate --to milvus` to the end \
             (it resumes where it stopped) before SCREENPLAY_VECTOR_STORE=milvus"
        ),
        _ => anyhow::bail!(
            "SCREENPLAY_VECTOR_STORE=milvus, but the vectors are not mirrored to Milvus: \
             run `screenplay vectors migrate --to milvus` first"
        ),
    }
}

/// Starts the mirror (`start_vector_mirror()`, as the schema owner): the
/// outbox triggers on and every stored vector queued. Returns the rows
/// queued (0 when it was already on: a resumed migration).
pub async fn start_mirror(owner: &impl ConnectionTrait) -> AppResult<i64> {
    let row = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT screenplay.start_vector_mirror() AS queued",
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "queued")).transpose()?.unwrap_or(0))
}

/// Records that the first full copy reached Milvus.
pub async fn mark_copied(owner: &impl ConnectionTrait) -> AppResult<()> {
    owner
        .execute_unprepared("UPDATE screenplay.vector_mirror SET copied_at = coalesce(copied_at, now())")
        .await?;
    Ok(())
}

/// Stops the mirror (`stop_vector_mirror()`, as the schema owner).
pub async fn stop_mirror(owner: &impl ConnectionTrait) -> AppResult<()> {
    owner
        .execute_unprepared("SELECT screenplay.stop_vector_mirror()")
        .await?;
    Ok(())
}

/// One difference `verify` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// A workspace whose vector counts differ.
    Count {
        workspace_id: Uuid,
        postgres: u64,
        milvus: u64,
    },
    /// A sampled document Milvus lacks.
    Missing { id: Uuid },
    /// A sampled document whose vector or fields differ.
    Changed { id: Uuid, what: &'static str },
}

/// What `verify` compared.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub workspaces: usize,
    pub vectors: u64,
    pub sampled: usize,
    pub differences: Vec<Difference>,
}

/// Compares vector counts per workspace and a random sample of vectors
/// (with the fields searches filter on) between PostgreSQL and Milvus.
pub async fn verify(db: &Db, milvus: &Milvus, sample: u32) -> AppResult<Verification> {
    let tx = db.begin_platform().await?;
    let counts = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tenant_id, workspace_id, count(*) AS n FROM screenplay.code_documents \
             WHERE status = 'READY' AND embedding IS NOT NULL GROUP BY tenant_id, workspace_id \
             ORDER BY tenant_id, workspace_id",
        ))
        .await?;
    let mut report = Verification::default();
    for row in &counts {
        let (tenant_id, workspace_id): (Uuid, Uuid) = (row.try_get("", "tenant_id")?, row.try_get("", "workspace_id")?);
        let postgres = row.try_get::<i64>("", "n")? as u64;
        let in_milvus = milvus.count(tenant_id, workspace_id).await.map_err(milvus_error)?;
        report.workspaces += 1;
        report.vectors += postgres;
        if in_milvus != postgres {
            report.differences.push(Difference::Count {
                workspace_id,
                postgres,
                milvus: in_milvus,
            });
        }
    }
    let expected = sample_records(&tx, sample).await?;
    // 100 vectors per query keep each answer a few MB.
    let mut found: HashMap<Uuid, MirrorRecord> = HashMap::new();
    for chunk in expected.chunks(100) {
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.id).collect();
        found.extend(
            milvus
                .records(&ids)
                .await
                .map_err(milvus_error)?
                .into_iter()
                .map(|r| (r.id, r)),
        );
    }
    report.sampled = expected.len();
    for want in &expected {
        match found.get(&want.id) {
            None => report.differences.push(Difference::Missing { id: want.id }),
            Some(got) => {
                if let Some(what) = first_difference(want, got) {
                    report.differences.push(Difference::Changed { id: want.id, what });
                }
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

async fn sample_records(tx: &impl ConnectionTrait, sample: u32) -> AppResult<Vec<MirrorRecord>> {
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, tenant_id, workspace_id, embedding_model, language, source_path, metadata, embedding \
             FROM screenplay.code_documents WHERE status = 'READY' AND embedding IS NOT NULL \
             ORDER BY random() LIMIT $1",
            [i64::from(sample).into()],
        ))
        .await?;
    rows.iter()
        .map(|row| mirror_record(row, row.try_get("", "id")?, row.try_get("", "embedding")?))
        .collect()
}

/// A document row's fields as Milvus keeps them (the drain and `verify`
/// select the same columns).
fn mirror_record(row: &QueryResult, id: Uuid, vector: PgVector) -> AppResult<MirrorRecord> {
    Ok(MirrorRecord {
        id,
        tenant_id: row.try_get("", "tenant_id")?,
        workspace_id: row.try_get("", "workspace_id")?,
        model: row.try_get("", "embedding_model")?,
        language: row.try_get("", "language")?,
        source_path: row.try_get("", "source_path")?,
        metadata: row.try_get("", "metadata")?,
        embedding: vector.to_vec(),
    })
}

/// The first field that differs; vectors within float rounding are equal.
fn first_difference(want: &MirrorRecord, got: &MirrorRecord) -> Option<&'static str> {
    let close = want.embedding.len() == got.embedding.len()
        && want
            .embedding
            .iter()
            .zip(&got.embedding)
            .all(|(a, b)| (a - b).abs() <= 1e-6);
    if !close {
        Some("vector")
    } else if want.tenant_id != got.tenant_id || want.workspace_id != got.workspace_id {
        Some("tenant or workspace")
    } else if want.model != got.model || want.language != got.language || want.source_path != got.source_path {
        Some("model, language or source path")
    } else if want.metadata != got.metadata {
        Some("metadata")
    } else {
        None
    }
}

fn milvus_error(err: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("Milvus: {err}"))
}
