//! GraphQL enums mirroring the database's checked values.

use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::TenantStatus")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::TenantPlan")]
pub enum TenantPlan {
    Free,
    Pro,
    Enterprise,
}

/// Roles a user can hold inside a tenant.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::UserRole")]
pub enum UserRole {
    TenantAdmin,
    Member,
    Viewer,
    Agent,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::UserStatus")]
pub enum UserStatus {
    Active,
    Disabled,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::WorkspaceStatus")]
pub enum WorkspaceStatus {
    Active,
    Archived,
}
