//! Request middleware: request ids, client addresses, and the GraphQL
//! request lifecycle (transaction, error codes; audit and quota later).

pub mod audit;
pub mod audit_diff;
pub mod client_ip;
pub mod lifecycle;
pub mod persisted;
pub mod rate_limit;
pub mod request_id;
