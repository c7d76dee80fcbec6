//! The async-graphql extensions every operation goes through, HTTP and
//! websocket alike: its lifecycle (transaction, audit, counters, span) and
//! metrics.

pub mod lifecycle;
pub mod metrics;
mod uncoded;

pub use lifecycle::{RequestLifecycle, operation_info};
pub use metrics::RequestMetrics;
