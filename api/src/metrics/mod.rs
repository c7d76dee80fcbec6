//! Prometheus metrics, served on `GET /metrics` (see `http::metrics`).
//!
//! One process-wide registry. Other modules record through the functions
//! here, which need no state:
//!
//! - [`observe_search`]: the duration of one search, by mode (`vector`,
//!   `keyword`, `hybrid`); also kept per minute for
//!   `screenplay.vector_db_metrics` (see [`SearchLatencyRecorder`]).
//! - [`set_audit_queue_depth`]: the audit writer's backlog.
//! - [`maintenance_failed`]: a scheduled maintenance job that failed.
//!
//! GraphQL operations are counted by [`observe_operation`] (from an
//! async-graphql extension), HTTP requests by [`http_layer`], and the database pool
//! and its read replicas are read at scrape time.

mod outbox;
mod replicas;
mod resident;
mod search;

use std::{sync::OnceLock, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

pub use search::{SEARCH_BOUNDS_MS, SearchLatencyRecorder, flush_loop};

use crate::{
    db::{PoolState, Replicas},
    search::resident::ResidentStats,
};
use outbox::OutboxMetrics;
use replicas::ReplicaMetrics;
use resident::ResidentMetrics;

/// Latency buckets of requests, in seconds.
const REQUEST_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation_type: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationTimingLabels {
    operation_type: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

fn search_histogram() -> Histogram {
    Histogram::new(SEARCH_BOUNDS_MS.map(|ms| ms / 1000.0))
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    graphql_requests: Family<OperationLabels, Counter>,
    graphql_duration: Histograms<OperationTimingLabels>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    search_duration: Histograms<ModeLabels>,
    search_requests: Family<ModeLabels, Counter>,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    pool_waiting: Gauge,
    pool_max: Gauge,
    audit_queue_depth: Gauge,
    maintenance_failures: Family<JobLabels, Counter>,
    replicas: ReplicaMetrics,
    outbox: OutboxMetrics,
    resident: ResidentMetrics,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("screenplay");
        let graphql_requests = Family::<OperationLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations by type, root field(s) and outcome (ok or the first error code)",
            graphql_requests.clone(),
        );
        let graphql_duration: Histograms<OperationTimingLabels> = Family::new_with_constructor(request_histogram);
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL operation latency, parse to response",
            graphql_duration.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        let http_duration: Histograms<RouteLabels> = Family::new_with_constructor(request_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_duration.clone(),
        );
        let search_duration: Histograms<ModeLabels> = Family::new_with_constructor(search_histogram);
        registry.register(
            "search_duration_seconds",
            "Document search latency by mode (vector, keyword, hybrid)",
            search_duration.clone(),
        );
        let search_requests = Family::<ModeLabels, Counter>::default();
        registry.register("searches", "Document searches by mode", search_requests.clone());
        let pool_in_use = Gauge::default();
        registry.register(
            "db_pool_connections_in_use",
            "Database pool connections lent out",
            pool_in_use.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_connections_idle",
            "Idle database pool connections",
            pool_idle.clone(),
        );
        let pool_waiting = Gauge::default();
        registry.register(
            "db_pool_waiting",
            "Transactions waiting for a pool connection (and their BEGIN)",
            pool_waiting.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_connections_max",
            "Size limit of the database pool",
            pool_max.clone(),
        );
        let audit_queue_depth = Gauge::default();
        registry.register(
            "audit_queue_depth",
            "Audit records waiting to be written",
            audit_queue_depth.clone(),
        );
        let maintenance_failures = Family::<JobLabels, Counter>::default();
        registry.register(
            "maintenance_failures",
            "Scheduled maintenance jobs that failed",
            maintenance_failures.clone(),
        );
        let replicas = ReplicaMetrics::register(&mut registry);
        let outbox = OutboxMetrics::register(&mut registry);
        let resident = ResidentMetrics::register(&mut registry);
        Self {
            registry,
            graphql_requests,
            graphql_duration,
            http_requests,
            http_duration,
            search_duration,
            search_requests,
            pool_in_use,
            pool_idle,
            pool_waiting,
            pool_max,
            audit_queue_depth,
            maintenance_failures,
            replicas,
            outbox,
            resident,
        }
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A search mode as a label: lower case, at most 32 characters.
fn mode_label(mode: &str) -> String {
    let mode: String = mode.trim().to_lowercase().chars().take(32).collect();
    if mode.is_empty() { "unknown".into() } else { mode }
}

/// Records one search of `mode` that took `duration`: the Prometheus
/// histogram, and the per-minute figures `vector_db_metrics` reads.
pub fn observe_search(mode: &str, duration: Duration) {
    let mode = mode_label(mode);
    let m = global();
    let labels = ModeLabels { mode: mode.clone() };
    m.search_duration.get_or_create(&labels).observe(duration.as_secs_f64());
    m.search_requests.get_or_create(&labels).inc();
    search::record(&mode, duration);
}

/// Sets the number of audit records waiting to be written.
pub fn set_audit_queue_depth(depth: usize) {
    global().audit_queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
}

/// The vector outbox as the draining instance last read it.
pub fn set_vector_outbox(pending: i64, lag_seconds: f64) {
    global().outbox.set(pending, lag_seconds);
}

/// Counts outbox rows brought to Milvus, or a failed batch.
pub fn vector_outbox_drained(synced: usize, failed: bool) {
    global().outbox.drained(synced, failed);
}

/// Counts a failed scheduled maintenance job.
pub fn maintenance_failed(job: &str) {
    global()
        .maintenance_failures
        .get_or_create(&JobLabels { job: job.into() })
        .inc();
}

/// Records a finished GraphQL operation.
pub fn observe_operation(operation_type: &str, operation: &str, outcome: &str, duration: Duration) {
    let m = global();
    m.graphql_requests
        .get_or_create(&OperationLabels {
            operation_type: operation_type.into(),
            operation: operation.into(),
            outcome: outcome.into(),
        })
        .inc();
    m.graphql_duration
        .get_or_create(&OperationTimingLabels {
            operation_type: operation_type.into(),
            operation: operation.into(),
        })
        .observe(duration.as_secs_f64());
}

/// Records a finished HTTP request.
pub(crate) fn observe_http(method: &str, route: &str, status: u16, duration: Duration) {
    let m = global();
    m.http_requests
        .get_or_create(&HttpLabels {
            method: method.into(),
            route: route.into(),
            status: status.to_string(),
        })
        .inc();
    m.http_duration
        .get_or_create(&RouteLabels {
            method: method.into(),
            route: route.into(),
        })
        .observe(duration.as_secs_f64());
}

/// The registry in text form (OpenMetrics, which Prometheus reads; plain
/// Prometheus text parsers read it too).
pub fn render(pool: PoolState, replicas: Option<&Replicas>, resident: ResidentStats) -> String {
    let m = global();
    m.resident.set(resident);
    if let Some(replicas) = replicas {
        m.replicas.set(replicas);
    }
    m.pool_in_use.set(i64::from(pool.in_use));
    m.pool_idle.set(i64::from(pool.idle));
    m.pool_waiting.set(i64::try_from(pool.waiting).unwrap_or(i64::MAX));
    m.pool_max.set(i64::from(pool.max));
    let mut out = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &m.registry) {
        tracing::error!(error = %err, "encoding metrics");
    }
    out
}

/// Axum middleware counting every request by method, matched route and status.
pub async fn http_layer(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".into());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    observe_http(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
