//! Operations: monitoring, maintenance and metrics.

mod maintenance;
mod metrics;
mod monitoring;
