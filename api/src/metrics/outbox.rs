//! The vector outbox (Milvus mirror): what waits, how old, what moved.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

pub(super) struct OutboxMetrics {
    pending: Gauge,
    lag: Gauge<f64, AtomicU64>,
    synced: Counter,
    failures: Counter,
}

impl OutboxMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            pending: Gauge::default(),
            lag: Gauge::default(),
            synced: Counter::default(),
            failures: Counter::default(),
        };
        registry.register(
            "vector_outbox_pending",
            "Document changes Milvus has not received yet (as this instance last saw)",
            metrics.pending.clone(),
        );
        registry.register(
            "vector_outbox_lag_seconds",
            "Age of the oldest document change Milvus has not received (0 when none)",
            metrics.lag.clone(),
        );
        registry.register(
            "vector_outbox_synced",
            "Document changes this instance brought to Milvus",
            metrics.synced.clone(),
        );
        registry.register(
            "vector_outbox_failures",
            "Outbox batches Milvus refused or did not answer (retried with backoff)",
            metrics.failures.clone(),
        );
        metrics
    }

    pub(super) fn set(&self, pending: i64, lag_seconds: f64) {
        self.pending.set(pending);
        self.lag.set(lag_seconds);
    }

    pub(super) fn drained(&self, synced: usize, failed: bool) {
        self.synced.inc_by(synced as u64);
        if failed {
            self.failures.inc();
        }
    }
}
