//! Mutation roots, one per domain, merged. Each mutation takes one `input`
//! object (or, where the contract says so, a bare `id`) and returns a
//! payload type.

mod account;
mod agent_records;
mod documents;
mod fragments;
mod maintenance;
mod outline;
mod sessions;
mod tenants;
mod users;
mod workspaces;

use async_graphql::MergedObject;

/// The Mutation type.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    account::AccountMutation,
    tenants::TenantMutation,
    users::UserMutation,
    workspaces::WorkspaceMutation,
    maintenance::MaintenanceMutation,
    sessions::SessionMutation,
    outline::OutlineMutation,
    fragments::FragmentMutation,
    agent_records::AgentRecordMutation,
    documents::DocumentMutation,
);
