//! Read replica gauges, read from [`Replicas`] at scrape time.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use crate::db::Replicas;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplicaLabels {
    replica: String,
}

pub(super) struct ReplicaMetrics {
    up: Family<ReplicaLabels, Gauge>,
    lag: Family<ReplicaLabels, Gauge<f64, AtomicU64>>,
    reads: Family<ReplicaLabels, Counter>,
    fallbacks: Counter,
}

impl ReplicaMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            up: Family::default(),
            lag: Family::default(),
            reads: Family::default(),
            fallbacks: Counter::default(),
        };
        registry.register(
            "replica_usable",
            "1 while a read replica answers, is a standby and lags at most SCREENPLAY_REPLICA_MAX_LAG",
            metrics.up.clone(),
        );
        registry.register(
            "replica_lag_seconds",
            "How far a read replica's replay is behind the primary (absent while it cannot be measured)",
            metrics.lag.clone(),
        );
        registry.register(
            "replica_reads",
            "Read-only transactions sent to a replica",
            metrics.reads.clone(),
        );
        registry.register(
            "replica_fallbacks",
            "Read-only transactions sent to the primary: no replica was usable, or the one picked did not begin the transaction",
            metrics.fallbacks.clone(),
        );
        metrics
    }

    /// Copies the replicas' current state into the gauges.
    pub(super) fn set(&self, replicas: &Replicas) {
        for state in replicas.states() {
            let labels = ReplicaLabels { replica: state.name };
            self.up.get_or_create(&labels).set(i64::from(state.usable));
            match state.lag {
                Some(lag) => {
                    self.lag.get_or_create(&labels).set(lag.as_secs_f64());
                }
                None => {
                    self.lag.remove(&labels);
                }
            }
            let reads = self.reads.get_or_create(&labels);
            reads.inc_by(state.reads.saturating_sub(reads.get()));
        }
        self.fallbacks
            .inc_by(replicas.fallbacks().saturating_sub(self.fallbacks.get()));
    }
}
