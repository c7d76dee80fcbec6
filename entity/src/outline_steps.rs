//! `screenplay.outline_steps`: the outline tree of a session (acts > sequences > scenes).

use crate::enums::StepStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(schema_name = "screenplay", table_name = "outline_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub parent_step_id: Option<Uuid>,
    pub position: i32,
    pub title: String,
    pub description: Option<String>,
    pub status: StepStatus,
    pub agent_name: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTimeWithTimeZone>,
    pub finished_at: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::screenplay_sessions::Entity",
        from = "Column::SessionId",
        to = "super::screenplay_sessions::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ParentStepId",
        to = "Column::Id",
        on_delete = "Cascade"
    )]
    Parent,
    #[sea_orm(has_many = "super::screenplay_fragments::Entity")]
    Fragments,
}

impl Related<super::screenplay_sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::screenplay_fragments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Fragments.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
