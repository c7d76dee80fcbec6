//! Request protection: limits, persisted queries, rate limits and quotas.

mod limits;
mod persisted_queries;
mod quotas;
