//! The screenplay backend: a multi-tenant GraphQL API over PostgreSQL +
//! pgvector for RAG screenplay generation.
//!
//! Layers, top first. Every `crate::` import points down this list (or
//! sideways within a line), never up; `tests/it/layout.rs` reads these lines
//! and fails on an upward import, an import circle or a function over 100
//! lines:
//!
//! `cli`, `bench` — the `screenplay` command and its measurements
//! `app` — the composition root: `Application::build`, used by serve, tests and benches
//! `http` — routes, the server loop, request ids, client addresses, health, metrics endpoint
//! `graphql` — schema, guards, loaders, resolvers; `graphql/lifecycle` (the operation lifecycle, metrics, secrets)
//! `state` — what every request shares
//! `service`, `request` — rules and transactions per domain; the per-operation scope, `request::tenancy::begin_as`, rate limits
//! `audit`, `maintenance` — the audit writer and diff; scheduled upkeep, backups
//! `metrics` — the Prometheus registry and recorders
//! `search`, `ingest`, `auth`, `events`, `db`, `embedding`, `domain` — leaves: retrieval, chunking, tokens, LISTEN/NOTIFY, the pool and tenant transactions, providers, validated values
//! `error`, `config`, `text`, `runtime`, `telemetry` — error codes and database-error classification, settings, CJK helpers, shutdown signals, TLS and logging, OpenTelemetry export
//!
//! Below them all, the `entity` crate (sea-orm models).

pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod embedding;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod maintenance;
pub mod metrics;
pub mod request;
pub mod runtime;
pub mod search;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod text;

/// Runs the command line; called by the `screenplay` binary.
pub async fn main() -> std::process::ExitCode {
    runtime::init_tls();
    match cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
