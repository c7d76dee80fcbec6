//! Query roots, one per domain, merged.

mod account;
mod documents;
mod health;
mod tenants;
mod users;
mod workspaces;

use async_graphql::MergedObject;

/// The Query type.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    health::HealthQuery,
    account::AccountQuery,
    tenants::TenantQuery,
    users::UserQuery,
    workspaces::WorkspaceQuery,
    documents::DocumentQuery,
);
