//! The audit writer.
//!
//! A mutation's audit row is inserted into the mutation's own transaction by
//! the request lifecycle (see `graphql/lifecycle/operation.rs`), so a change and its row commit
//! or roll back together. Every other row (queries, subscriptions, failed
//! mutations, refused and anonymous requests) and the `requests` /
//! `mutations` counters go through [`AuditSink`]: a bounded queue drained by
//! one writer task that inserts rows in batches and upserts the counters in the
//! same transaction. On graceful shutdown the queue is drained and flushed
//! before the process exits, so no row of a request that got a response is
//! lost.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use entity::{audit_logs, enums::QuotaMetric};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use tokio::{
    sync::{Mutex, mpsc, oneshot},
    task::JoinHandle,
};
use uuid::Uuid;

use crate::{
    db::{Db, audit_statement, batch},
    domain::TenantId,
    error::{AppError, AppResult, DbFailure},
};

/// Rows per INSERT.
const BATCH: usize = 500;
/// How long a row may wait in the queue before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Queue capacity; senders wait when it is full rather than drop rows.
const CAPACITY: usize = 20_000;

/// One audit row: the entity's model, built by the request lifecycle.
pub type AuditRecord = audit_logs::Model;

/// Inserts a mutation's row into its transaction and commits both, in one
/// round trip.
///
/// sqlx cannot pipeline, so the row (as `EXECUTE` of the INSERT prepared on
/// the connection when `prepared`, else as a plain INSERT; both with the
/// values inlined as escaped literals, see `db::audit_statement`) and the
/// COMMIT go as one simple-query message; a separate INSERT before the
/// COMMIT cost this request a whole extra round trip (see BENCHMARKS.md).
/// The trailing `BEGIN` leaves the connection inside a transaction, as sqlx
/// and sea-orm still believe it is, and dropping `tx` queues the matching
/// ROLLBACK of that empty transaction, which sqlx sends with the ping it
/// makes anyway when the connection goes back to the pool. If the INSERT
/// fails, PostgreSQL skips the rest of the message and the ROLLBACK discards
/// the change; if the COMMIT fails (a deferred constraint), the change is
/// gone too. Either way the error is returned and nothing of the mutation is
/// kept.
pub async fn insert_and_commit(tx: DatabaseTransaction, record: AuditRecord, prepared: bool) -> AppResult<()> {
    let sql = if prepared {
        audit_statement::execute_sql(record)
    } else {
        audit_statement::insert_sql(record)
    };
    let result = tx.execute_unprepared(&format!("{sql}; COMMIT; BEGIN")).await;
    drop(tx);
    result?;
    Ok(())
}

enum Event {
    Record(Box<AuditRecord>),
    Count {
        tenant: TenantId,
        metric: QuotaMetric,
        amount: i64,
    },
    Shutdown(oneshot::Sender<()>),
}

/// The queue in front of the writer task.
pub struct AuditSink {
    sender: mpsc::Sender<Event>,
    writer: Mutex<Option<JoinHandle<()>>>,
    queued: Arc<AtomicUsize>,
    enabled: bool,
}

impl AuditSink {
    /// Starts the writer. Disabled, the sink accepts and discards everything
    /// (only for measuring the middleware's cost).
    pub fn start(db: Db, enabled: bool) -> Self {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = tokio::spawn(run_writer(db, receiver, queued.clone()));
        Self {
            sender,
            writer: Mutex::new(Some(writer)),
            queued,
            enabled,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Rows waiting to be written.
    pub fn depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues a row.
    pub async fn record(&self, record: AuditRecord) {
        if !self.enabled {
            return;
        }
        crate::metrics::set_audit_queue_depth(self.queued.fetch_add(1, Ordering::Relaxed) + 1);
        if self.sender.send(Event::Record(Box::new(record))).await.is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("audit writer stopped; a row was not written");
        }
    }

    /// Queues a row without waiting (for places that cannot await).
    pub fn record_now(&self, record: AuditRecord) {
        if !self.enabled {
            return;
        }
        crate::metrics::set_audit_queue_depth(self.queued.fetch_add(1, Ordering::Relaxed) + 1);
        if self.sender.try_send(Event::Record(Box::new(record))).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("audit queue full or closed; a row was not written");
        }
    }

    /// Adds to a usage counter of the current hour.
    pub async fn count(&self, tenant: TenantId, metric: QuotaMetric, amount: i64) {
        if !self.enabled || amount == 0 {
            return;
        }
        if self.sender.send(Event::Count { tenant, metric, amount }).await.is_err() {
            tracing::error!(%tenant, metric = metric.as_str(), "audit writer stopped; a count was lost");
        }
    }

    /// Adds to a usage counter without waiting (for places that cannot await).
    pub fn count_now(&self, tenant: TenantId, metric: QuotaMetric, amount: i64) {
        if !self.enabled || amount == 0 {
            return;
        }
        if self.sender.try_send(Event::Count { tenant, metric, amount }).is_err() {
            tracing::error!(%tenant, metric = metric.as_str(), "audit queue full or closed; a count was lost");
        }
    }

    /// Writes everything queued so far and stops the writer. Called once the
    /// last request has been answered.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Event::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
        if let Some(handle) = self.writer.lock().await.take() {
            let _ = handle.await;
        }
    }
}

type Counters = HashMap<(TenantId, QuotaMetric, DateTime<Utc>), i64>;

async fn run_writer(db: Db, mut receiver: mpsc::Receiver<Event>, queued: Arc<AtomicUsize>) {
    let mut rows: Vec<AuditRecord> = Vec::new();
    let mut counters: Counters = HashMap::new();
    let mut failures = 0u32;
    // Set when a row or count lands in an empty buffer and polled only while
    // the buffer holds something: nothing waits longer than FLUSH_EVERY,
    // however steadily events keep coming.
    let flush_timer = tokio::time::sleep(FLUSH_EVERY);
    tokio::pin!(flush_timer);
    loop {
        let pending = !(rows.is_empty() && counters.is_empty());
        let event = tokio::select! {
            event = receiver.recv() => event,
            () = &mut flush_timer, if pending => {
                flush(&db, &mut rows, &mut counters, &queued, &mut failures).await;
                // Left over (the database is unavailable): retried a period later.
                flush_timer.as_mut().reset(tokio::time::Instant::now() + FLUSH_EVERY);
                continue;
            }
        };
        if !pending {
            flush_timer.as_mut().reset(tokio::time::Instant::now() + FLUSH_EVERY);
        }
        match event {
            Some(Event::Record(record)) => {
                rows.push(*record);
                if rows.len() >= BATCH {
                    flush(&db, &mut rows, &mut counters, &queued, &mut failures).await;
                }
            }
            Some(Event::Count { tenant, metric, amount }) => {
                *counters.entry((tenant, metric, hour_of(Utc::now()))).or_default() += amount;
            }
            Some(Event::Shutdown(done)) => {
                // Whatever is still in the channel was sent before shutdown.
                while let Ok(event) = receiver.try_recv() {
                    match event {
                        Event::Record(record) => rows.push(*record),
                        Event::Count { tenant, metric, amount } => {
                            *counters.entry((tenant, metric, hour_of(Utc::now()))).or_default() += amount;
                        }
                        Event::Shutdown(other) => {
                            let _ = other.send(());
                        }
                    }
                }
                for attempt in 0..20 {
                    flush(&db, &mut rows, &mut counters, &queued, &mut failures).await;
                    if rows.is_empty() && counters.is_empty() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
                }
                if !rows.is_empty() || !counters.is_empty() {
                    tracing::error!(rows = rows.len(), "audit rows could not be written before shutdown");
                }
                let _ = done.send(());
                return;
            }
            None => {
                flush(&db, &mut rows, &mut counters, &queued, &mut failures).await;
                return;
            }
        }
    }
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// Writes the buffered rows and counters in one transaction. When the
/// database cannot be reached, keeps them for the next attempt; when it
/// refuses the batch for what is in it, writes the rows one at a time so one
/// bad row (a bug) does not hold back every row queued behind it.
async fn flush(
    db: &Db,
    rows: &mut Vec<AuditRecord>,
    counters: &mut Counters,
    queued: &AtomicUsize,
    failures: &mut u32,
) {
    if rows.is_empty() && counters.is_empty() {
        return;
    }
    match write(db, rows, counters).await {
        Ok(()) => {
            written(queued, rows.len());
            rows.clear();
            counters.clear();
            *failures = 0;
        }
        Err(WriteError::Refused(reason)) => {
            let total = rows.len();
            let mut kept = Vec::new();
            let mut refused = 0;
            for row in std::mem::take(rows) {
                match write(db, std::slice::from_ref(&row), &Counters::new()).await {
                    Ok(()) => {}
                    Err(WriteError::Refused(reason)) => {
                        refused += 1;
                        tracing::error!(%reason, request_id = %row.request_id, "audit row refused by the database; dropped");
                    }
                    Err(WriteError::Unavailable(_)) => kept.push(row),
                }
            }
            written(queued, total - kept.len());
            if refused == 0 && kept.is_empty() {
                // Every row went in on its own: the counters were refused.
                tracing::error!(%reason, "usage counters refused by the database; dropped");
                counters.clear();
            }
            // Otherwise the counters go with the next batch.
            *rows = kept;
        }
        Err(WriteError::Unavailable(e)) => {
            *failures += 1;
            if *failures == 1 || (*failures).is_multiple_of(20) {
                tracing::error!(error = ?e, rows = rows.len(), "writing audit rows failed; will retry");
            }
            // Back off a little so a down database is not hammered.
            tokio::time::sleep(Duration::from_millis(200 * u64::from((*failures).min(10)))).await;
        }
    }
}

/// `n` queued rows are done with (written or dropped).
fn written(queued: &AtomicUsize, n: usize) {
    let left = queued.fetch_sub(n, Ordering::Relaxed).saturating_sub(n);
    crate::metrics::set_audit_queue_depth(left);
}

/// Why a batch was not written.
#[derive(Debug)]
enum WriteError {
    /// The database refused the data (a data exception, or a named
    /// constraint): sending it again cannot help.
    Refused(String),
    /// Anything else: the database is down, busy or restarting.
    Unavailable(AppError),
}

impl From<AppError> for WriteError {
    fn from(e: AppError) -> Self {
        Self::Unavailable(e)
    }
}

impl From<sea_orm::DbErr> for WriteError {
    fn from(e: sea_orm::DbErr) -> Self {
        if DbFailure::of(&e).is_some_and(|f| f.refuses_the_data()) {
            Self::Refused(e.to_string())
        } else {
            Self::Unavailable(AppError::from(e))
        }
    }
}

/// Writes a batch in one transaction. Every statement has one shape
/// whatever the batch size (the rows travel as one JSON array), so each
/// pooled backend caches one plan per statement, not one per batch size.
async fn write(db: &Db, rows: &[AuditRecord], counters: &Counters) -> Result<(), WriteError> {
    let tx = db.begin_platform().await?;
    let existing = lock_tenants(&tx, rows, counters).await?;
    for chunk in rows.chunks(BATCH) {
        let rows: Vec<serde_json::Value> = chunk.iter().map(|r| row_json(r, &existing)).collect();
        tx.execute_raw(batch::insert_rows("screenplay.audit_logs", AUDIT_COLUMNS, rows, ""))
            .await?;
    }
    let counters: Vec<serde_json::Value> = counters
        .iter()
        .filter(|((t, _, _), _)| existing.contains(&t.uuid()))
        .map(|((tenant, metric, bucket), amount)| {
            serde_json::json!({ "t": tenant.uuid(), "m": metric.as_str(), "b": bucket, "v": amount })
        })
        .collect();
    if !counters.is_empty() {
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO screenplay.quota_usage (tenant_id, metric, bucket_start, value) \
             SELECT t, m, b, v FROM jsonb_to_recordset($1::jsonb) AS c(t uuid, m text, b timestamptz, v numeric) \
             ON CONFLICT (tenant_id, metric, bucket_start) \
             DO UPDATE SET value = quota_usage.value + EXCLUDED.value, updated_at = now()",
            [serde_json::Value::Array(counters).into()],
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

const AUDIT_COLUMNS: &str = "id, created_at, tenant_id, user_id, subject, role, request_id, operation_type, \
     operation_name, fields, resource_type, resource_ids, outcome, error_codes, ip, user_agent, details, duration_ms";

/// The tenants the batch mentions that still exist, locked KEY SHARE: a
/// concurrent deletion waits for this batch (whose rows its trigger then
/// deletes) rather than leave rows of a tenant gone.
async fn lock_tenants(
    tx: &impl ConnectionTrait,
    rows: &[AuditRecord],
    counters: &Counters,
) -> Result<HashSet<Uuid>, WriteError> {
    let mentioned: HashSet<Uuid> = rows
        .iter()
        .filter_map(|r| r.tenant_id)
        .chain(counters.keys().map(|(t, _, _)| t.uuid()))
        .collect();
    if mentioned.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM screenplay.tenants WHERE id = ANY($1) FOR KEY SHARE",
            [mentioned.into_iter().collect::<Vec<Uuid>>().into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| row.try_get::<Uuid>("", "id").ok())
        .collect())
}

/// One audit row as `jsonb_populate_recordset` reads it. A row whose tenant
/// was deleted since its request was answered is kept, unlinked.
fn row_json(r: &AuditRecord, existing: &HashSet<Uuid>) -> serde_json::Value {
    let mut details = r.details.clone();
    let tenant_id = match r.tenant_id {
        Some(t) if !existing.contains(&t) => {
            if let Some(object) = details.as_object_mut() {
                object.insert("deletedTenantId".into(), serde_json::Value::String(t.to_string()));
            }
            None
        }
        other => other,
    };
    serde_json::json!({
        "id": r.id, "created_at": r.created_at, "tenant_id": tenant_id, "user_id": r.user_id,
        "subject": r.subject, "role": r.role, "request_id": r.request_id,
        "operation_type": r.operation_type, "operation_name": r.operation_name, "fields": r.fields,
        "resource_type": r.resource_type, "resource_ids": r.resource_ids, "outcome": r.outcome.as_str(),
        "error_codes": r.error_codes, "ip": r.ip, "user_agent": r.user_agent, "details": details,
        "duration_ms": r.duration_ms,
    })
}
