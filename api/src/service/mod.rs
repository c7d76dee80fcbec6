//! Services: the rules of each domain and the transactions they run in.
//! They know nothing of GraphQL; resolvers parse input and call them.

pub mod agent_records;
pub mod audit_log;
pub mod auth;
pub mod demo;
pub mod documents;
pub mod export;
pub mod fragments;
pub mod indexing;
pub mod ingestion;
pub mod monitoring;
pub mod outline;
pub mod page;
pub mod platform_admins;
pub mod search;
pub mod session_status;
pub mod sessions;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod vector_sync;
pub mod workspaces;
