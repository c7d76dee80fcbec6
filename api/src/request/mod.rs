//! One request's life below GraphQL: its scope and transaction, the one
//! entry from a principal to a confirmed caller ([`tenancy::begin_as`]),
//! the per-tenant rate limiter, each tenant's share of the pool
//! ([`bulkhead`]), the persisted-query store and the parsed documents.

pub mod bulkhead;
pub mod parsed;
pub mod persisted;
pub mod rate_limit;
pub mod scope;
pub mod tenancy;

pub use scope::{AuditNotes, RequestMeta, RequestScope};
pub use tenancy::{Caller, ShortTx, begin_as};
