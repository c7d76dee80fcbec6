//! The async-graphql extensions every operation goes through, HTTP and
//! websocket alike: its lifecycle (transaction, audit, counters, span) and
//! metrics; and which inputs are secrets (kept out of the audit log).

pub mod lifecycle;
pub mod metrics;
pub mod secrets;
mod uncoded;

pub use lifecycle::{RequestLifecycle, operation_info};
