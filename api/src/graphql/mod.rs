//! The GraphQL API: one schema builder, query / mutation / subscription roots
//! merged per domain, output types, loaders and pagination.

// Connection fields take the four Relay arguments plus filters.
#![allow(clippy::too_many_arguments)]

pub mod admission;
pub mod connection;
pub mod context;
pub mod cost;
pub mod gate;
pub mod guards;
pub mod lifecycle;
pub mod loaders;
pub mod mutation;
pub mod persisted;
pub mod query;
pub mod ready;
pub mod schema;
pub mod subscription;
pub mod types;
pub mod waves;

pub use gate::SocketSlots;
pub use schema::{AppSchema, Schemas, build_schemas, sdl};
