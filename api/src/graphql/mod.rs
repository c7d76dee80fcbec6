//! The GraphQL API: one schema builder, query / mutation / subscription roots
//! merged per domain, output types, loaders and pagination.

// Connection fields take the four Relay arguments plus filters.
#![allow(clippy::too_many_arguments)]

pub mod connection;
pub mod context;
pub mod extensions;
pub mod guards;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod schema;
pub mod subscription;
pub mod types;

pub use schema::{AppSchema, Schemas, build_schemas, sdl};
