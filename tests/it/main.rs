//! Integration tests: one binary, one module per area. Every test gets its
//! own database cloned from a migrated template on a local PostgreSQL +
//! pgvector that the harness installs and starts itself, and talks to a real
//! server over HTTP.

mod helpers;

mod admin_api;
mod agent_records;
mod audit;
mod auth;
mod backup;
mod clients;
mod container;
mod dataloaders;
mod doc_examples;
mod documents;
mod embedding;
mod export;
mod fairness;
mod foundation;
mod fragments;
mod graphiql;
mod http_conventions;
mod identity_providers;
mod layout;
mod logging;
mod operations;
mod outline;
mod permissions;
mod pgbouncer;
mod protection;
mod quick_start;
mod replicas;
mod search;
mod seed_commands;
mod sessions;
mod subscriptions;
mod tenancy;
mod traces;
