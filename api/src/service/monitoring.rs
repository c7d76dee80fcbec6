//! Database monitoring and online maintenance for platform admins: reads
//! the seed's monitoring views (`screenplay.table_sizes`, ...) and runs the
//! maintenance functions that PostgreSQL allows inside a transaction
//! (`analyze_all_tables`, `cleanup_old_logs`). The views are granted to
//! `screenplay_platform` only, so these run in a platform transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    maintenance::{JobKind, TableStep},
};

async fn rows(db: &impl ConnectionTrait, sql: &str) -> AppResult<Vec<QueryResult>> {
    Ok(db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?)
}

#[derive(Debug, Clone, Serialize)]
pub struct TableSize {
    pub schema_name: String,
    pub table_name: String,
    pub partitioned: bool,
    pub partitions: i32,
    pub row_estimate: Option<i64>,
    pub total_size: String,
    pub table_size: String,
    pub indexes_size: String,
    pub total_bytes: i64,
    pub table_bytes: i64,
    pub index_bytes: i64,
}

pub async fn table_sizes(db: &impl ConnectionTrait) -> AppResult<Vec<TableSize>> {
    rows(db, "SELECT * FROM screenplay.table_sizes")
        .await?
        .iter()
        .map(|r| {
            Ok(TableSize {
                schema_name: r.try_get("", "schema_name")?,
                table_name: r.try_get("", "table_name")?,
                partitioned: r.try_get("", "partitioned")?,
                partitions: r.try_get("", "partitions")?,
                row_estimate: r.try_get("", "row_estimate")?,
                total_size: r.try_get("", "total_size")?,
                table_size: r.try_get("", "table_size")?,
                indexes_size: r.try_get("", "indexes_size")?,
                total_bytes: r.try_get("", "total_bytes")?,
                table_bytes: r.try_get("", "table_bytes")?,
                index_bytes: r.try_get("", "index_bytes")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct WorkspaceVectors {
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub vectors: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TenantVectors {
    pub tenant_id: Uuid,
    pub vectors: i64,
    pub workspaces: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VectorDbMetrics {
    pub total_documents: i64,
    pub total_vectors: i64,
    pub dimensions: Option<i32>,
    pub workspaces: i64,
    pub tenants: i64,
    pub max_vectors_per_workspace: Option<i64>,
    pub vectors_per_workspace: Vec<WorkspaceVectors>,
    pub vectors_per_tenant: Vec<TenantVectors>,
    pub table_size: String,
    pub index_size: String,
    pub total_size: String,
    pub table_bytes: i64,
    pub index_bytes: i64,
    pub total_bytes: i64,
    pub search_calls_last_hour: Option<i64>,
    pub search_qps_avg: Option<f64>,
    pub search_qps_peak: Option<f64>,
    pub search_p99_ms: Option<f64>,
    pub benchmark_p99_ms: Option<f64>,
    pub milvus_triggers: Vec<String>,
    pub recommendation: String,
    pub vector_mirror: Option<String>,
    pub outbox_pending: i64,
    pub outbox_lag_seconds: f64,
}

pub async fn vector_db_metrics(db: &impl ConnectionTrait) -> AppResult<VectorDbMetrics> {
    let all = rows(
        db,
        "SELECT total_documents, total_vectors, dimensions, workspaces, tenants, max_vectors_per_workspace, \
                vectors_per_workspace::text AS per_workspace, vectors_per_tenant::text AS per_tenant, \
                table_size, index_size, total_size, table_bytes, index_bytes, total_bytes, \
                search_calls_last_hour, search_qps_avg, search_qps_peak, search_p99_ms, benchmark_p99_ms, \
                milvus_triggers, recommendation, vector_mirror, outbox_pending, outbox_lag_seconds \
         FROM screenplay.vector_db_metrics",
    )
    .await?;
    let r = all
        .first()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("vector_db_metrics returned no row")))?;
    let per_workspace: String = r.try_get("", "per_workspace")?;
    let per_tenant: String = r.try_get("", "per_tenant")?;
    Ok(VectorDbMetrics {
        total_documents: r.try_get("", "total_documents")?,
        total_vectors: r.try_get("", "total_vectors")?,
        dimensions: r.try_get("", "dimensions")?,
        workspaces: r.try_get("", "workspaces")?,
        tenants: r.try_get("", "tenants")?,
        max_vectors_per_workspace: r.try_get("", "max_vectors_per_workspace")?,
        vectors_per_workspace: serde_json::from_str(&per_workspace).map_err(AppError::internal)?,
        vectors_per_tenant: serde_json::from_str(&per_tenant).map_err(AppError::internal)?,
        table_size: r.try_get("", "table_size")?,
        index_size: r.try_get("", "index_size")?,
        total_size: r.try_get("", "total_size")?,
        table_bytes: r.try_get("", "table_bytes")?,
        index_bytes: r.try_get("", "index_bytes")?,
        total_bytes: r.try_get("", "total_bytes")?,
        search_calls_last_hour: r.try_get("", "search_calls_last_hour")?,
        search_qps_avg: r.try_get("", "search_qps_avg")?,
        search_qps_peak: r.try_get("", "search_qps_peak")?,
        search_p99_ms: r.try_get("", "search_p99_ms")?,
        benchmark_p99_ms: r.try_get("", "benchmark_p99_ms")?,
        milvus_triggers: r.try_get("", "milvus_triggers")?,
        recommendation: r.try_get("", "recommendation")?,
        vector_mirror: r.try_get("", "vector_mirror")?,
        outbox_pending: r.try_get("", "outbox_pending")?,
        outbox_lag_seconds: r.try_get("", "outbox_lag_seconds")?,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowQuery {
    pub username: Option<String>,
    pub query: String,
    pub calls: i64,
    pub total_exec_ms: f64,
    pub mean_exec_ms: f64,
    pub max_exec_ms: f64,
    pub stddev_exec_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub cache_hit_ratio: Option<f64>,
}

/// Slow statements, and whether pg_stat_statements is there to report them.
#[derive(Debug, Clone, Serialize)]
pub struct SlowQueries {
    pub statistics_available: bool,
    pub queries: Vec<SlowQuery>,
}

pub async fn slow_queries(db: &impl ConnectionTrait) -> AppResult<SlowQueries> {
    let available = rows(
        db,
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS available",
    )
    .await?
    .first()
    .map(|r| r.try_get::<bool>("", "available"))
    .transpose()?
    .unwrap_or(false);
    let queries = rows(db, "SELECT * FROM screenplay.slow_queries")
        .await?
        .iter()
        .map(|r| {
            Ok(SlowQuery {
                username: r.try_get("", "username")?,
                query: r.try_get("", "query")?,
                calls: r.try_get("", "calls")?,
                total_exec_ms: r.try_get("", "total_exec_ms")?,
                mean_exec_ms: r.try_get("", "mean_exec_ms")?,
                max_exec_ms: r.try_get("", "max_exec_ms")?,
                stddev_exec_ms: r.try_get("", "stddev_exec_ms")?,
                rows: r.try_get("", "rows")?,
                shared_blks_hit: r.try_get("", "shared_blks_hit")?,
                shared_blks_read: r.try_get("", "shared_blks_read")?,
                cache_hit_ratio: r.try_get("", "cache_hit_ratio")?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(SlowQueries {
        statistics_available: available,
        queries,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexUsage {
    pub table_name: String,
    pub index_name: String,
    pub index_type: String,
    pub is_unique: bool,
    pub is_primary: bool,
    pub partitions: i32,
    pub index_scans: i64,
    pub tuples_read: i64,
    pub tuples_fetched: i64,
    pub last_scan: Option<DateTime<Utc>>,
    pub index_size: String,
    pub index_bytes: i64,
    pub unused: bool,
}

pub async fn index_usage(db: &impl ConnectionTrait) -> AppResult<Vec<IndexUsage>> {
    rows(db, "SELECT * FROM screenplay.index_usage")
        .await?
        .iter()
        .map(|r| {
            Ok(IndexUsage {
                table_name: r.try_get("", "table_name")?,
                index_name: r.try_get("", "index_name")?,
                index_type: r.try_get("", "index_type")?,
                is_unique: r.try_get("", "is_unique")?,
                is_primary: r.try_get("", "is_primary")?,
                partitions: r.try_get("", "partitions")?,
                index_scans: r.try_get("", "index_scans")?,
                tuples_read: r.try_get("", "tuples_read")?,
                tuples_fetched: r.try_get("", "tuples_fetched")?,
                last_scan: r.try_get("", "last_scan")?,
                index_size: r.try_get("", "index_size")?,
                index_bytes: r.try_get("", "index_bytes")?,
                unused: r.try_get("", "unused")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct CacheHitRatio {
    pub scope: String,
    pub blocks_hit: i64,
    pub blocks_read: i64,
    pub ratio: Option<f64>,
    pub target: f64,
    pub healthy: Option<bool>,
}

pub async fn cache_hit_ratio(db: &impl ConnectionTrait) -> AppResult<Vec<CacheHitRatio>> {
    rows(
        db,
        "SELECT scope, blocks_hit, blocks_read, ratio::float8 AS ratio, target::float8 AS target, healthy \
         FROM screenplay.cache_hit_ratio",
    )
    .await?
    .iter()
    .map(|r| {
        Ok(CacheHitRatio {
            scope: r.try_get("", "scope")?,
            blocks_hit: r.try_get("", "blocks_hit")?,
            blocks_read: r.try_get("", "blocks_read")?,
            ratio: r.try_get("", "ratio")?,
            target: r.try_get("", "target")?,
            healthy: r.try_get("", "healthy")?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStat {
    pub username: Option<String>,
    pub application_name: Option<String>,
    pub state: String,
    pub connections: i64,
    pub waiting_on_lock: i64,
    pub longest_transaction_seconds: Option<f64>,
    pub longest_in_state_seconds: Option<f64>,
    pub database_connections: i64,
    pub max_connections: i32,
}

pub async fn connection_stats(db: &impl ConnectionTrait) -> AppResult<Vec<ConnectionStat>> {
    rows(
        db,
        "SELECT username, application_name, state, connections, waiting_on_lock, \
                extract(epoch FROM longest_transaction)::float8 AS longest_transaction_seconds, \
                extract(epoch FROM longest_in_state)::float8 AS longest_in_state_seconds, \
                database_connections, max_connections \
         FROM screenplay.connection_stats",
    )
    .await?
    .iter()
    .map(|r| {
        Ok(ConnectionStat {
            username: r.try_get("", "username")?,
            application_name: r.try_get("", "application_name")?,
            state: r.try_get("", "state")?,
            connections: r.try_get("", "connections")?,
            waiting_on_lock: r.try_get("", "waiting_on_lock")?,
            longest_transaction_seconds: r.try_get("", "longest_transaction_seconds")?,
            longest_in_state_seconds: r.try_get("", "longest_in_state_seconds")?,
            database_connections: r.try_get("", "database_connections")?,
            max_connections: r.try_get("", "max_connections")?,
        })
    })
    .collect()
}

/// A maintenance run started from the API, as recorded in `maintenance_runs`.
#[derive(Debug, Clone, Serialize)]
pub struct ApiRun {
    pub id: Uuid,
    pub job: &'static str,
    pub detail: String,
}

/// Takes the job's advisory lock for the rest of the transaction, so an
/// API run never overlaps a scheduled or CLI run of the same job.
async fn lock_job(db: &impl ConnectionTrait, kind: JobKind) -> AppResult<()> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [kind.lock_key().into()],
        ))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no answer to pg_try_advisory_xact_lock")))?;
    if row.try_get::<bool>("", "locked")? {
        Ok(())
    } else {
        Err(AppError::conflict(format!(
            "a `{kind}` maintenance run is in progress; try again when it ends"
        )))
    }
}

async fn record(db: &impl ConnectionTrait, kind: JobKind, detail: String) -> AppResult<ApiRun> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO screenplay.maintenance_runs (job, started_by, instance, status, detail, finished_at) \
             VALUES ($1, 'api', 'api', 'succeeded', $2, clock_timestamp()) RETURNING id",
            [kind.as_str().into(), detail.clone().into()],
        ))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("maintenance_runs insert returned nothing")))?;
    Ok(ApiRun {
        id: row.try_get("", "id")?,
        job: kind.as_str(),
        detail,
    })
}

/// ANALYZE of every table (`screenplay.analyze_all_tables()`).
pub async fn analyze_all_tables(db: &impl sea_orm::TransactionTrait) -> AppResult<(ApiRun, Vec<TableStep>)> {
    let tx = db.begin().await?;
    lock_job(&tx, JobKind::Analyze).await?;
    let steps = crate::maintenance::analyze_all_tables(&tx).await?;
    let detail = crate::maintenance::JobReport::Tables(steps.clone()).summary();
    let run = record(&tx, JobKind::Analyze, detail).await?;
    sea_orm::TransactionSession::commit(tx).await?;
    Ok((run, steps))
}

/// Removes logs older than `days` days (`screenplay.cleanup_old_logs(days)`).
pub async fn cleanup_old_logs(
    db: &impl sea_orm::TransactionTrait,
    days: i32,
) -> AppResult<(ApiRun, Vec<crate::maintenance::CleanupRow>)> {
    if !(1..=36_500).contains(&days) {
        return Err(AppError::bad_input("days", "days must be between 1 and 36500"));
    }
    let tx = db.begin().await?;
    lock_job(&tx, JobKind::Cleanup).await?;
    let cleaned = crate::maintenance::cleanup_old_logs(&tx, days).await?;
    let detail = crate::maintenance::JobReport::Cleanup(cleaned.clone()).summary();
    let run = record(&tx, JobKind::Cleanup, detail).await?;
    sea_orm::TransactionSession::commit(tx).await?;
    Ok((run, cleaned))
}
