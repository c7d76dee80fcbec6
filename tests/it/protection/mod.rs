//! Request protection: limits, persisted queries, rate limits and quotas.

mod hostile;
mod limits;
mod persisted_queries;
mod quotas;
mod sign_in;
