//! Integration tests: one binary, one module per area. Every test gets its
//! own database cloned from a migrated template on a local PostgreSQL +
//! pgvector that the harness installs and starts itself, and talks to a real
//! server over HTTP.

mod helpers;

mod admin_api;
mod auth;
mod documents;
mod embedding;
mod foundation;
mod permissions;
mod search;
mod tenancy;
