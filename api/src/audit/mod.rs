//! The audit log and the request counters, written by the server itself:
//! the writer ([`sink`]) and the before/after records of changes ([`diff`]).

pub mod diff;
pub mod sink;

pub use sink::{AuditRecord, AuditSink, insert_and_commit};
