//! `screenplay.screenplay_sessions`: one screenplay being generated.

use crate::enums::SessionStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(schema_name = "screenplay", table_name = "screenplay_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub created_by: Option<Uuid>,
    pub title: String,
    pub logline: Option<String>,
    pub genre: Option<String>,
    pub language: String,
    pub status: SessionStatus,
    pub config: Json,
    pub error: Option<String>,
    pub version: i32,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
    #[sea_orm(has_many = "super::outline_steps::Entity")]
    Steps,
    #[sea_orm(has_many = "super::screenplay_fragments::Entity")]
    Fragments,
    #[sea_orm(has_many = "super::retrieved_documents::Entity")]
    Retrievals,
    #[sea_orm(has_many = "super::execution_logs::Entity")]
    Executions,
    #[sea_orm(has_many = "super::llm_call_logs::Entity")]
    LlmCalls,
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::outline_steps::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Steps.def()
    }
}

impl Related<super::screenplay_fragments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Fragments.def()
    }
}

impl Related<super::retrieved_documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Retrievals.def()
    }
}

impl Related<super::execution_logs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Executions.def()
    }
}

impl Related<super::llm_call_logs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LlmCalls.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
