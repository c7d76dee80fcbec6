//! `screenplay.audit_logs`: one row per API operation (partitioned by month).

use crate::enums::AuditOutcome;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(schema_name = "screenplay", table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub created_at: DateTimeWithTimeZone,
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub subject: Option<String>,
    pub role: Option<String>,
    pub request_id: String,
    pub operation_type: Option<String>,
    pub operation_name: Option<String>,
    pub fields: Vec<String>,
    pub resource_type: Option<String>,
    pub resource_ids: Vec<String>,
    pub outcome: AuditOutcome,
    pub error_codes: Vec<String>,
    #[sea_orm(select_as = "text", save_as = "inet")]
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Json,
    pub duration_ms: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::TenantId",
        to = "super::tenants::Column::Id",
        on_delete = "Cascade"
    )]
    Tenant,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
