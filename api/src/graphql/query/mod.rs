//! Query roots, one per domain, merged.

mod account;
mod audit;
mod documents;
mod health;
mod monitoring;
mod sessions;
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
    audit::AuditQuery,
    tenants::TenantQuery,
    users::UserQuery,
    workspaces::WorkspaceQuery,
    monitoring::MonitoringQuery,
    sessions::SessionQuery,
    documents::DocumentQuery,
);
