//! The async-graphql extensions every operation goes through, HTTP and
//! websocket alike: its lifecycle (transaction, audit, counters, span),
//! persisted queries, and metrics.

pub mod lifecycle;
pub mod metrics;
pub mod persisted;
mod uncoded;

pub use lifecycle::{RequestLifecycle, operation_info};
pub use metrics::RequestMetrics;
pub use persisted::PersistedQueries;
