//! Integration tests: one binary, one module per area. Every test gets its
//! own database cloned from a migrated template on a local PostgreSQL +
//! pgvector that the harness installs and starts itself, and talks to a real
//! server over HTTP.

mod helpers;

mod admin_api;
mod audit;
mod auth;
mod backup;
mod foundation;
mod operations;
mod permissions;
mod pgbouncer;
mod seed_commands;
mod tenancy;
