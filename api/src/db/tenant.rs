//! Queries of tenant-owned tables start from the tenant: `find_in(tenant)`
//! in the spirit of svix's `secure_find(org_id)`. Row-level security limits
//! every statement of a tenant transaction to its tenant anyway; the filter
//! says so in the query itself (and lets the planner use the tenant indexes),
//! and it is written once, here, instead of by hand in every service.

use sea_orm::{ColumnTrait, DeleteMany, EntityTrait, PrimaryKeyTrait, QueryFilter, Select, UpdateMany};

use crate::domain::TenantId;

/// A table whose rows belong to one tenant each.
pub trait TenantOwned: EntityTrait {
    /// The table's `tenant_id` column.
    fn tenant_column() -> Self::Column;

    /// The tenant's rows.
    fn find_in(tenant: TenantId) -> Select<Self> {
        Self::find().filter(Self::tenant_column().eq(tenant))
    }

    /// The tenant's row with this id (none for another tenant's id).
    fn find_by_id_in(tenant: TenantId, id: <Self::PrimaryKey as PrimaryKeyTrait>::ValueType) -> Select<Self> {
        Self::find_by_id(id).filter(Self::tenant_column().eq(tenant))
    }

    /// An UPDATE of the tenant's rows.
    fn update_many_in(tenant: TenantId) -> UpdateMany<Self> {
        Self::update_many().filter(Self::tenant_column().eq(tenant))
    }

    /// A DELETE of the tenant's rows.
    fn delete_many_in(tenant: TenantId) -> DeleteMany<Self> {
        Self::delete_many().filter(Self::tenant_column().eq(tenant))
    }
}

macro_rules! tenant_owned {
    ($($table:ident),* $(,)?) => {
        $(impl TenantOwned for entity::$table::Entity {
            fn tenant_column() -> entity::$table::Column {
                entity::$table::Column::TenantId
            }
        })*
    };
}

tenant_owned!(
    audit_logs,
    code_documents,
    execution_logs,
    fragment_versions,
    llm_call_logs,
    outline_steps,
    quota_usage,
    refresh_tokens,
    retrieved_documents,
    screenplay_fragments,
    screenplay_sessions,
    users,
    workspaces,
);
