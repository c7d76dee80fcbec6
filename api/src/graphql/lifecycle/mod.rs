//! The lifecycle every operation goes through, HTTP and websocket alike
//! (transaction, audit, counters, span, error codes), its metrics, and
//! which inputs are secrets (kept out of the audit log).

pub mod metrics;
pub mod operation;
pub mod secrets;
mod uncoded;

pub use operation::operation_info;
