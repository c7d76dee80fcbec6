//! Output types of the platform-admin monitoring queries and maintenance
//! mutations: the rows of the seed's monitoring views.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{maintenance, service::monitoring as m};

/// A GraphQL object with the same fields as a service row.
macro_rules! mirror {
    ($(#[$meta:meta])* $name:ident from $src:path { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(SimpleObject, Clone, Debug)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty),* }

        impl From<$src> for $name {
            fn from(s: $src) -> Self {
                Self { $($field: s.$field),* }
            }
        }
    };
}

mirror! {
    /// A row of `screenplay.table_sizes`: a table with its partitions, TOAST and indexes.
    TableSize from m::TableSize {
        schema_name: String,
        table_name: String,
        partitioned: bool,
        /// Number of partitions (0 for plain tables).
        partitions: i32,
        /// The planner's row estimate (last ANALYZE); null before the first.
        row_estimate: Option<i64>,
        total_size: String,
        table_size: String,
        indexes_size: String,
        total_bytes: i64,
        table_bytes: i64,
        index_bytes: i64,
    }
}

mirror! {
    /// Vectors of one workspace.
    WorkspaceVectorCount from m::WorkspaceVectors {
        tenant_id: Uuid,
        workspace_id: Uuid,
        vectors: i64,
    }
}

mirror! {
    /// Vectors of one tenant.
    TenantVectorCount from m::TenantVectors {
        tenant_id: Uuid,
        vectors: i64,
        workspaces: i64,
    }
}

/// `screenplay.vector_db_metrics`: the vector store and the seed's Milvus
/// migration triggers (total vectors > 1,000,000, total size > 100 GB,
/// search QPS > 100, p99 > 500 ms).
#[derive(SimpleObject, Clone, Debug)]
pub struct VectorDbMetrics {
    pub total_documents: i64,
    /// Documents with an embedding.
    pub total_vectors: i64,
    pub dimensions: Option<i32>,
    /// Workspaces with at least one vector.
    pub workspaces: i64,
    /// Tenants with at least one vector.
    pub tenants: i64,
    pub max_vectors_per_workspace: Option<i64>,
    pub vectors_per_workspace: Vec<WorkspaceVectorCount>,
    pub vectors_per_tenant: Vec<TenantVectorCount>,
    pub table_size: String,
    /// Size of the vector (HNSW) indexes.
    pub index_size: String,
    /// The documents table with TOAST and every index.
    pub total_size: String,
    pub table_bytes: i64,
    pub index_bytes: i64,
    pub total_bytes: i64,
    /// Vector and hybrid searches recorded by the servers in the last hour.
    pub search_calls_last_hour: Option<i64>,
    pub search_qps_avg: Option<f64>,
    /// The busiest minute of the last hour, in searches per second.
    pub search_qps_peak: Option<f64>,
    /// p99 latency of the last hour's vector and hybrid searches; null when none was recorded.
    pub search_p99_ms: Option<f64>,
    /// p99 of the last 7 days' `benchmark_vector_search()` runs.
    pub benchmark_p99_ms: Option<f64>,
    /// The Milvus triggers reached, e.g. `total_vectors 1200000 > 1,000,000`.
    pub milvus_triggers: Vec<String>,
    /// What to do: stay on pgvector, plan, or run `screenplay vectors migrate --to milvus`.
    pub recommendation: String,
    /// `milvus` while vectors are mirrored to Milvus; null otherwise.
    pub vector_mirror: Option<String>,
    /// Document changes Milvus has not received yet.
    pub outbox_pending: i64,
    /// Age of the oldest change Milvus has not received (0 when none): how stale a Milvus search may be.
    pub outbox_lag_seconds: f64,
}

impl From<m::VectorDbMetrics> for VectorDbMetrics {
    fn from(s: m::VectorDbMetrics) -> Self {
        Self {
            total_documents: s.total_documents,
            total_vectors: s.total_vectors,
            dimensions: s.dimensions,
            workspaces: s.workspaces,
            tenants: s.tenants,
            max_vectors_per_workspace: s.max_vectors_per_workspace,
            vectors_per_workspace: s.vectors_per_workspace.into_iter().map(Into::into).collect(),
            vectors_per_tenant: s.vectors_per_tenant.into_iter().map(Into::into).collect(),
            table_size: s.table_size,
            index_size: s.index_size,
            total_size: s.total_size,
            table_bytes: s.table_bytes,
            index_bytes: s.index_bytes,
            total_bytes: s.total_bytes,
            search_calls_last_hour: s.search_calls_last_hour,
            search_qps_avg: s.search_qps_avg,
            search_qps_peak: s.search_qps_peak,
            search_p99_ms: s.search_p99_ms,
            benchmark_p99_ms: s.benchmark_p99_ms,
            milvus_triggers: s.milvus_triggers,
            recommendation: s.recommendation,
            vector_mirror: s.vector_mirror,
            outbox_pending: s.outbox_pending,
            outbox_lag_seconds: s.outbox_lag_seconds,
        }
    }
}

mirror! {
    /// A statement of `screenplay.slow_queries` (from pg_stat_statements).
    SlowQuery from m::SlowQuery {
        username: Option<String>,
        /// Normalized statement text (constants replaced by $n).
        query: String,
        calls: i64,
        total_exec_ms: f64,
        mean_exec_ms: f64,
        max_exec_ms: f64,
        stddev_exec_ms: f64,
        rows: i64,
        shared_blks_hit: i64,
        shared_blks_read: i64,
        cache_hit_ratio: Option<f64>,
    }
}

/// `screenplay.slow_queries`, and whether pg_stat_statements feeds it.
#[derive(SimpleObject, Clone, Debug)]
pub struct SlowQueries {
    /// False when pg_stat_statements is not installed: `queries` is then
    /// always empty (see docs/operations.md, "pg_stat_statements", to enable it).
    pub statistics_available: bool,
    /// Statements averaging at least 100 ms, slowest first (50 at most).
    pub queries: Vec<SlowQuery>,
}

impl From<m::SlowQueries> for SlowQueries {
    fn from(s: m::SlowQueries) -> Self {
        Self {
            statistics_available: s.statistics_available,
            queries: s.queries.into_iter().map(Into::into).collect(),
        }
    }
}

mirror! {
    /// A row of `screenplay.index_usage`.
    IndexUsage from m::IndexUsage {
        table_name: String,
        index_name: String,
        /// btree, gin, hnsw, ...
        index_type: String,
        is_unique: bool,
        is_primary: bool,
        partitions: i32,
        /// Scans since the statistics were reset (partitions added up).
        index_scans: i64,
        tuples_read: i64,
        tuples_fetched: i64,
        last_scan: Option<DateTime<Utc>>,
        index_size: String,
        index_bytes: i64,
        /// Never scanned and enforcing no constraint: a candidate to drop.
        unused: bool,
    }
}

mirror! {
    /// A row of `screenplay.cache_hit_ratio` (database, tables, indexes).
    CacheHitRatio from m::CacheHitRatio {
        scope: String,
        blocks_hit: i64,
        blocks_read: i64,
        /// Null before any block was read.
        ratio: Option<f64>,
        /// 0.99.
        target: f64,
        healthy: Option<bool>,
    }
}

mirror! {
    /// A row of `screenplay.connection_stats`.
    ConnectionStat from m::ConnectionStat {
        username: Option<String>,
        application_name: Option<String>,
        /// active, idle, idle in transaction, ...; `hidden` when the owner lacks pg_read_all_stats.
        state: String,
        connections: i64,
        waiting_on_lock: i64,
        longest_transaction_seconds: Option<f64>,
        longest_in_state_seconds: Option<f64>,
        /// Client connections to this database, all roles.
        database_connections: i64,
        max_connections: i32,
    }
}

/// One table analyzed.
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyzedTable {
    pub table_name: String,
    pub duration_ms: f64,
}

impl From<maintenance::TableStep> for AnalyzedTable {
    fn from(s: maintenance::TableStep) -> Self {
        Self {
            table_name: s.table,
            duration_ms: s.duration.as_secs_f64() * 1000.0,
        }
    }
}

/// One log table cleaned.
#[derive(SimpleObject, Clone, Debug)]
pub struct CleanedLogTable {
    pub table_name: String,
    /// Rows removed: in dropped partitions and deleted from the boundary one.
    pub deleted_count: i64,
    pub partitions_dropped: i32,
    /// Rows older than this were removed.
    pub cutoff: DateTime<Utc>,
}

impl From<maintenance::CleanupRow> for CleanedLogTable {
    fn from(s: maintenance::CleanupRow) -> Self {
        Self {
            table_name: s.table,
            deleted_count: s.deleted,
            partitions_dropped: s.partitions_dropped,
            cutoff: s.cutoff,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyzeAllTablesPayload {
    /// The run, as recorded in `screenplay.maintenance_runs`.
    pub run_id: Uuid,
    pub tables: Vec<AnalyzedTable>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct CleanupOldLogsPayload {
    /// The run, as recorded in `screenplay.maintenance_runs`.
    pub run_id: Uuid,
    pub tables: Vec<CleanedLogTable>,
}
