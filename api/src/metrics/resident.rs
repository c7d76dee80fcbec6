//! Small workspaces' vectors in memory (`search::resident`): how many, how
//! much memory, and what the searches got from them.

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

use crate::search::resident::ResidentStats;

pub(super) struct ResidentMetrics {
    copies: Gauge,
    bytes: Gauge,
    hits: Counter,
    stale: Counter,
    loads: Counter,
    failed_loads: Counter,
}

impl ResidentMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            copies: Gauge::default(),
            bytes: Gauge::default(),
            hits: Counter::default(),
            stale: Counter::default(),
            loads: Counter::default(),
            failed_loads: Counter::default(),
        };
        let entries: [(&str, &str, &Gauge); 2] = [
            (
                "search_resident_copies",
                "Workspaces whose vectors are kept in memory",
                &metrics.copies,
            ),
            ("search_resident_bytes", "Memory of the kept vectors", &metrics.bytes),
        ];
        for (name, help, gauge) in entries {
            registry.register(name, help, gauge.clone());
        }
        let counters: [(&str, &str, &Counter); 4] = [
            (
                "search_resident_hits",
                "Vector searches answered from the candidates of a copy in memory",
                &metrics.hits,
            ),
            (
                "search_resident_stale",
                "Vector searches that found their copy out of date (then scanned every row)",
                &metrics.stale,
            ),
            (
                "search_resident_loads",
                "Copies of a workspace's vectors read",
                &metrics.loads,
            ),
            (
                "search_resident_failed_loads",
                "Copies not kept (a second model, a vector without a direction, a write while reading, an error)",
                &metrics.failed_loads,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        metrics
    }

    /// Brings the metrics up to the copies' own counts (read when scraped).
    pub(super) fn set(&self, stats: ResidentStats) {
        self.copies.set(i64::try_from(stats.copies).unwrap_or(i64::MAX));
        self.bytes.set(i64::try_from(stats.bytes).unwrap_or(i64::MAX));
        for (counter, now) in [
            (&self.hits, stats.hits),
            (&self.stale, stats.stale),
            (&self.loads, stats.loads),
            (&self.failed_loads, stats.failed_loads),
        ] {
            counter.inc_by(now.saturating_sub(counter.get()));
        }
    }
}
