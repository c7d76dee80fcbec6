//! The screenplay backend: a multi-tenant GraphQL API over PostgreSQL +
//! pgvector for RAG screenplay generation.
//!
//! Layout: `http/` (routes, server), `graphql/` (schema, resolvers),
//! `middleware/` (request lifecycle, request ids, client addresses),
//! `auth/` (tokens, passwords, policy), `service/` (rules and transactions),
//! `db/` (pool, tenant transactions), `embedding/` (providers), `search/`
//! (vector store, keyword channel, fusion), `ingest/` (chunking, files),
//! `localdb/` (the self-installing development database), `maintenance/`
//! (vacuum, cleanup, reindex, partitions, scheduler, backups), `metrics/`
//! (Prometheus), `bench/` (measurements), `cli/` (the `screenplay` command).

pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod embedding;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod localdb;
pub mod maintenance;
pub mod metrics;
pub mod middleware;
pub mod search;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;

/// Runs the command line; called by the `screenplay` binary.
pub async fn main() -> std::process::ExitCode {
    startup::init_tls();
    match cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
