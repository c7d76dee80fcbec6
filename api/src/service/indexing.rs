//! Background indexing: the jobs `ingestDocuments` creates, and the worker
//! that embeds their chunks outside any open transaction.
//!
//! A worker claims one job at a time (`FOR UPDATE SKIP LOCKED` and a lease
//! it renews while it works, so several instances never embed the same job
//! and a dead instance's job is taken over when its lease ends). Per batch:
//! a short transaction marks chunks `EMBEDDING`; the provider embeds them
//! with no transaction open; a short transaction stores the vectors and
//! marks them `READY`, while the next round's provider call already runs. A provider that is unavailable (after its own
//! retries) postpones the job with backoff; one that refuses fails the
//! batch's chunks with the reason. Chunks are rows written once at ingest,
//! and embedding updates them in place, so a crash at any point leaves every
//! chunk exactly once: the next claim puts `EMBEDDING` chunks back in line.
//! A worker claims only jobs of its own embedding model, so an instance
//! configured with another model never mixes vectors into a workspace.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::enums::QuotaMetric;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, Statement, Value};
use uuid::Uuid;

use super::usage;
use crate::{
    auth::TenantCaller,
    db::Db,
    domain::TenantId,
    embedding::{EmbeddingError, Embeddings, SharedEmbedder, vector_literal},
    error::{AppError, AppResult},
    runtime::ShutdownSignal,
};

/// Chunks embedded per round (one provider call for most providers).
const BATCH: i64 = 64;

const JOB_COLUMNS: &str = "id, tenant_id, workspace_id, status, embedding_model, total_chunks, ready_chunks, \
                           failed_chunks, embedding_tokens, attempts, last_error, created_at, updated_at, finished_at";

/// An ingestion job as clients see it.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct JobRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    /// `PENDING`, `RUNNING`, `COMPLETED` or `FAILED`.
    pub status: String,
    pub embedding_model: String,
    pub total_chunks: i32,
    pub ready_chunks: i32,
    pub failed_chunks: i32,
    pub embedding_tokens: i64,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub finished_at: Option<DateTime<FixedOffset>>,
}

impl JobRow {
    /// `COMPLETED` or `FAILED`: nothing more will change.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "FAILED")
    }
}

/// A new job of the caller's workspace (its chunks are written next).
pub async fn create(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    workspace_id: Uuid,
    model: &str,
) -> AppResult<JobRow> {
    let row = JobRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO screenplay.ingestion_jobs (id, tenant_id, workspace_id, embedding_model, created_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {JOB_COLUMNS}"
        ),
        [
            Uuid::now_v7().into(),
            caller.tenant_id.into(),
            workspace_id.into(),
            model.into(),
            caller.user_id.into(),
        ],
    ))
    .one(tx)
    .await?;
    row.ok_or_else(|| AppError::internal(anyhow::anyhow!("the job was not written")))
}

/// Counts the job's chunks once they are written; a job whose chunks were
/// all embedded at once (a local embedder) is complete.
pub async fn settle(tx: &DatabaseTransaction, caller: &TenantCaller, id: Uuid, tokens: u64) -> AppResult<JobRow> {
    let row = JobRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "UPDATE screenplay.ingestion_jobs AS j SET total_chunks = c.total, ready_chunks = c.ready, \
               embedding_tokens = j.embedding_tokens + $3, updated_at = now(), \
               status = CASE WHEN c.ready = c.total THEN 'COMPLETED' ELSE j.status END, \
               finished_at = CASE WHEN c.ready = c.total THEN now() END \
             FROM (SELECT count(*)::int4 AS total, (count(*) FILTER (WHERE status = 'READY'))::int4 AS ready \
                   FROM screenplay.code_documents WHERE tenant_id = $1 AND ingestion_job_id = $2) AS c \
             WHERE j.tenant_id = $1 AND j.id = $2 RETURNING {JOB_COLUMNS}"
        ),
        [
            caller.tenant_id.into(),
            id.into(),
            (tokens.min(i64::MAX as u64) as i64).into(),
        ],
    ))
    .one(tx)
    .await?;
    row.ok_or_else(|| AppError::internal(anyhow::anyhow!("the job vanished")))
}

/// One job of the caller's tenant (`None`: not found, or another tenant's).
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<Option<JobRow>> {
    Ok(JobRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {JOB_COLUMNS} FROM screenplay.ingestion_jobs WHERE tenant_id = $1 AND id = $2"),
        [caller.tenant_id.into(), id.into()],
    ))
    .one(db)
    .await?)
}

/// How the worker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexerSettings {
    /// How long a claim holds a job without renewal (renewed while working).
    pub lease: Duration,
    /// Claims of a job before a provider that stays unavailable fails it.
    pub max_attempts: u32,
    /// How often an idle worker looks for work.
    pub idle_poll: Duration,
}

impl Default for IndexerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            max_attempts: 5,
            idle_poll: Duration::from_millis(250),
        }
    }
}

/// A round of chunks whose provider call runs on a task of its own;
/// dropping the round stops the call.
struct InFlight {
    batch: Vec<(Uuid, String)>,
    task: tokio::task::JoinHandle<Result<Embeddings, EmbeddingError>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
struct Claim {
    id: Uuid,
    tenant_id: TenantId,
    model: String,
    attempts: i32,
}

/// Embeds the chunks of ingestion jobs, one job at a time.
#[derive(Clone)]
pub struct Indexer {
    db: Db,
    embedder: SharedEmbedder,
    instance: String,
    settings: IndexerSettings,
    /// Set by `run`: a stopping server hands its job back at once.
    stop: Option<ShutdownSignal>,
}

impl Indexer {
    pub fn new(db: Db, embedder: SharedEmbedder, instance: String, settings: IndexerSettings) -> Self {
        Self {
            db,
            embedder,
            instance,
            settings,
            stop: None,
        }
    }

    /// Works jobs of every tenant until `shutdown`.
    pub async fn run(mut self, shutdown: ShutdownSignal) {
        self.stop = Some(shutdown.clone());
        while !shutdown.is_set() {
            let idle = match self.claim(None).await {
                Ok(Some(job)) => {
                    if let Err(err) = self.work(&job).await {
                        tracing::warn!(job = %job.id, error = ?err, "indexing job interrupted; it will be retried");
                    }
                    false
                }
                Ok(None) => true,
                Err(err) => {
                    tracing::warn!(error = ?err, "claiming an indexing job failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.idle_poll) => {}
                    _ = shutdown.clone().wait() => break,
                }
            }
        }
    }

    /// Works the jobs `ids` (claiming them here unless another instance
    /// holds them) until each is finished; `progress` sees them after every
    /// step. Returns them finished.
    pub async fn finish(&self, ids: &[Uuid], mut progress: impl FnMut(&[JobRow])) -> AppResult<Vec<JobRow>> {
        loop {
            let jobs = self.read(ids).await?;
            progress(&jobs);
            if jobs.iter().all(JobRow::is_finished) {
                return Ok(jobs);
            }
            match self.claim(Some(ids)).await? {
                Some(job) => self.work(&job).await?,
                None => tokio::time::sleep(self.settings.idle_poll).await,
            }
        }
    }

    async fn read(&self, ids: &[Uuid]) -> AppResult<Vec<JobRow>> {
        let tx = self.db.begin_platform().await?;
        let rows = JobRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {JOB_COLUMNS} FROM screenplay.ingestion_jobs WHERE id = ANY($1) ORDER BY id"),
            [ids.to_vec().into()],
        ))
        .all(&tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The next job of this worker's model that is due and not held by a
    /// live lease (of `only`, if given). Jobs of another model wait for an
    /// instance that embeds with it.
    async fn claim(&self, only: Option<&[Uuid]>) -> AppResult<Option<Claim>> {
        let tx = self.db.begin_platform().await?;
        let row = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE screenplay.ingestion_jobs SET status = 'RUNNING', claimed_by = $1, \
                   lease_until = now() + make_interval(secs => $2), attempts = attempts + 1, updated_at = now() \
                 WHERE id = (SELECT id FROM screenplay.ingestion_jobs \
                             WHERE status IN ('PENDING', 'RUNNING') AND next_attempt_at <= now() \
                               AND (lease_until IS NULL OR lease_until < now()) \
                               AND ($3::uuid[] IS NULL OR id = ANY($3)) AND embedding_model = $4 \
                             ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, tenant_id, embedding_model, attempts",
                [
                    self.instance.clone().into(),
                    self.settings.lease.as_secs_f64().into(),
                    Value::from(only.map(<[Uuid]>::to_vec)),
                    self.embedder.model().into(),
                ],
            ))
            .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Claim {
            id: row.try_get("", "id")?,
            tenant_id: TenantId::from(row.try_get::<Uuid>("", "tenant_id")?),
            model: row.try_get("", "embedding_model")?,
            attempts: row.try_get("", "attempts")?,
        }))
    }

    /// Embeds the job's chunks batch by batch, then closes it.
    async fn work(&self, job: &Claim) -> AppResult<()> {
        tracing::debug!(job = %job.id, attempt = job.attempts, "indexing job claimed");
        self.tenant_statement(
            job,
            "UPDATE screenplay.code_documents SET status = 'PENDING' \
             WHERE tenant_id = $1 AND ingestion_job_id = $2 AND status = 'EMBEDDING'",
        )
        .await?;
        // While a round is stored, the next one is already being embedded.
        let mut next: Option<InFlight> = None;
        loop {
            let mut current = match next.take() {
                Some(round) => round,
                None => {
                    if self.stopping() {
                        return self.postpone(job, None).await;
                    }
                    let Some(batch) = self.take_batch(job).await? else {
                        break;
                    };
                    self.start(batch)
                }
            };
            let Some(result) = self.wait_holding_lease(job, &mut current).await else {
                // Stopping: the job goes back at once, this claim not counted.
                return self.postpone(job, None).await;
            };
            let batch = &current.batch;
            match result {
                Ok(embedded) if embedded.vectors.len() == batch.len() => {
                    if !self.stopping() {
                        next = self.take_batch(job).await?.map(|b| self.start(b));
                    }
                    self.store(job, batch, embedded.vectors, embedded.tokens).await?
                }
                Ok(_) => self.fail_batch(job, batch, "the embedder lost vectors").await?,
                Err(err @ EmbeddingError::Unavailable { .. }) if job.attempts < self.settings.max_attempts as i32 => {
                    return self.postpone(job, Some(&err.to_string())).await;
                }
                Err(err) => self.fail_batch(job, batch, &err.to_string()).await?,
            }
        }
        self.close(job).await
    }

    /// Up to a batch of the job's `PENDING` chunks, now `EMBEDDING`; the
    /// lease is renewed in the same transaction.
    async fn take_batch(&self, job: &Claim) -> AppResult<Option<Vec<(Uuid, String)>>> {
        let tx = self.db.begin_tenant(job.tenant_id).await?;
        let rows = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE screenplay.code_documents SET status = 'EMBEDDING', updated_at = now() \
                 WHERE id IN (SELECT id FROM screenplay.code_documents \
                              WHERE tenant_id = $1 AND ingestion_job_id = $2 AND status = 'PENDING' \
                              ORDER BY id LIMIT $3) \
                 RETURNING id, content",
                [job.tenant_id.into(), job.id.into(), BATCH.into()],
            ))
            .await?;
        self.renew(&tx, job).await?;
        tx.commit().await?;
        let batch: Vec<(Uuid, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "content")?)))
            .collect::<Result<_, sea_orm::DbErr>>()?;
        Ok((!batch.is_empty()).then_some(batch))
    }

    async fn renew(&self, db: &impl ConnectionTrait, job: &Claim) -> AppResult<()> {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE screenplay.ingestion_jobs SET lease_until = now() + make_interval(secs => $3), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2",
            [
                job.tenant_id.into(),
                job.id.into(),
                self.settings.lease.as_secs_f64().into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn renew_alone(&self, job: &Claim) -> AppResult<()> {
        let tx = self.db.begin_tenant(job.tenant_id).await?;
        self.renew(&tx, job).await?;
        tx.commit().await?;
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(ShutdownSignal::is_set)
    }

    /// A round's provider call, started on a task of its own.
    fn start(&self, batch: Vec<(Uuid, String)>) -> InFlight {
        let embedder = self.embedder.clone();
        let texts: Vec<String> = batch.iter().map(|(_, text)| text.clone()).collect();
        InFlight {
            batch,
            task: tokio::spawn(async move { embedder.embed(&texts).await }),
        }
    }

    /// The round's answer, the lease renewed meanwhile (a third of it at a
    /// time), no transaction open while waiting; `None` when the server
    /// stops first.
    async fn wait_holding_lease(
        &self,
        job: &Claim,
        round: &mut InFlight,
    ) -> Option<Result<Embeddings, EmbeddingError>> {
        let stopped = async {
            match &self.stop {
                Some(stop) => stop.clone().wait().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stopped);
        let every = self.settings.lease / 3;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                joined = &mut round.task => {
                    return Some(joined.unwrap_or_else(|e| Err(EmbeddingError::Unavailable {
                        attempts: 1,
                        message: format!("the embedding task failed: {e}"),
                    })));
                }
                _ = &mut stopped => return None,
                _ = ticks.tick() => {
                    if let Err(err) = self.renew_alone(job).await {
                        tracing::warn!(job = %job.id, error = ?err, "renewing an indexing lease failed");
                    }
                }
            }
        }
    }

    /// Vectors in, chunks `READY`, the job's counts and the tenant's usage up.
    async fn store(&self, job: &Claim, batch: &[(Uuid, String)], vectors: Vec<Vec<f32>>, tokens: u64) -> AppResult<()> {
        let tx = self.db.begin_tenant(job.tenant_id).await?;
        let ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
        // One statement for the batch; vectors travel as text (`[x,y,…]`).
        let literals: Vec<String> = vectors.iter().map(|v| vector_literal(v)).collect();
        let rows = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE screenplay.code_documents AS d SET embedding = v.embedding::vector, \
                   embedding_model = $4, status = 'READY', \
                   status_reason = NULL, updated_at = now() \
                 FROM unnest($2::uuid[], $3::text[]) AS v(id, embedding) \
                 WHERE d.tenant_id = $1 AND d.id = v.id AND d.status = 'EMBEDDING' RETURNING d.id",
                [
                    job.tenant_id.into(),
                    ids.into(),
                    literals.into(),
                    job.model.clone().into(),
                ],
            ))
            .await?;
        let ready: Vec<Uuid> = rows.iter().map(|r| r.try_get("", "id")).collect::<Result<_, _>>()?;
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE screenplay.ingestion_jobs SET ready_chunks = ready_chunks + $3, \
               embedding_tokens = embedding_tokens + $4, updated_at = now() WHERE tenant_id = $1 AND id = $2",
            [
                job.tenant_id.into(),
                job.id.into(),
                (ready.len() as i32).into(),
                (tokens.min(i64::MAX as u64) as i64).into(),
            ],
        ))
        .await?;
        usage::add(&tx, job.tenant_id, QuotaMetric::EmbeddingTokens, Decimal::from(tokens)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The batch's chunks `FAILED` with `reason`; the job goes on.
    async fn fail_batch(&self, job: &Claim, batch: &[(Uuid, String)], reason: &str) -> AppResult<()> {
        let ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
        let reason: String = reason.chars().take(1000).collect();
        tracing::warn!(job = %job.id, chunks = ids.len(), %reason, "indexing chunks failed");
        let tx = self.db.begin_tenant(job.tenant_id).await?;
        let failed = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE screenplay.code_documents SET status = 'FAILED', status_reason = $3, updated_at = now() \
                 WHERE tenant_id = $1 AND id = ANY($2) AND status = 'EMBEDDING'",
                [job.tenant_id.into(), ids.into(), reason.clone().into()],
            ))
            .await?
            .rows_affected();
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE screenplay.ingestion_jobs SET failed_chunks = failed_chunks + $3, last_error = $4, \
               updated_at = now() WHERE tenant_id = $1 AND id = $2",
            [
                job.tenant_id.into(),
                job.id.into(),
                (failed as i32).into(),
                reason.into(),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The provider is unavailable (`reason`): the job's rounds go back in line
    /// and the job waits (2, 4, 8… seconds, at most 5 minutes) for its next
    /// claim. Without a reason (the server stops) it is free again at once,
    /// and this claim does not count as an attempt.
    async fn postpone(&self, job: &Claim, reason: Option<&str>) -> AppResult<()> {
        let (wait, refund) = match reason {
            Some(reason) => {
                let wait = 2f64.powi(job.attempts.clamp(1, 8)).min(300.0);
                tracing::warn!(job = %job.id, attempt = job.attempts, wait_secs = wait, %reason, "indexing job postponed");
                (wait, 0)
            }
            None => {
                tracing::info!(job = %job.id, "stopping: indexing job handed back");
                (0.0, 1)
            }
        };
        let tx = self.db.begin_tenant(job.tenant_id).await?;
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE screenplay.code_documents SET status = 'PENDING', updated_at = now() \
             WHERE tenant_id = $1 AND ingestion_job_id = $2 AND status = 'EMBEDDING'",
            [job.tenant_id.into(), job.id.into()],
        ))
        .await?;
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE screenplay.ingestion_jobs SET status = 'PENDING', claimed_by = NULL, lease_until = NULL, \
               next_attempt_at = now() + make_interval(secs => $3), last_error = coalesce($4, last_error), \
               attempts = attempts - $5, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2",
            [
                job.tenant_id.into(),
                job.id.into(),
                wait.into(),
                reason.map(|r| r.chars().take(1000).collect::<String>()).into(),
                refund.into(),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// No chunk left to embed: the job is `COMPLETED`, or `FAILED` when a
    /// chunk failed; its counts are read from the chunks themselves.
    async fn close(&self, job: &Claim) -> AppResult<()> {
        self.tenant_statement(
            job,
            "UPDATE screenplay.ingestion_jobs AS j SET total_chunks = c.total, ready_chunks = c.ready, \
               failed_chunks = c.failed, status = CASE WHEN c.failed > 0 THEN 'FAILED' ELSE 'COMPLETED' END, \
               claimed_by = NULL, lease_until = NULL, finished_at = now(), updated_at = now() \
             FROM (SELECT count(*)::int4 AS total, (count(*) FILTER (WHERE status = 'READY'))::int4 AS ready, \
                          (count(*) FILTER (WHERE status = 'FAILED'))::int4 AS failed \
                   FROM screenplay.code_documents WHERE tenant_id = $1 AND ingestion_job_id = $2) AS c \
             WHERE j.tenant_id = $1 AND j.id = $2",
        )
        .await?;
        tracing::debug!(job = %job.id, "indexing job finished");
        Ok(())
    }

    /// One statement on `$1` = the job's tenant, `$2` = the job.
    async fn tenant_statement(&self, job: &Claim, sql: &str) -> AppResult<()> {
        let tx = self.db.begin_tenant(job.tenant_id).await?;
        let values: [Value; 2] = [job.tenant_id.into(), job.id.into()];
        tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
