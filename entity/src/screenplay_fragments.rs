//! `screenplay.screenplay_fragments`: the current version of each screenplay element.

use crate::enums::{FragmentKind, FragmentOrigin};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(schema_name = "screenplay", table_name = "screenplay_fragments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub step_id: Uuid,
    pub position: i32,
    pub kind: FragmentKind,
    pub character: Option<String>,
    pub content: String,
    pub version: i32,
    pub origin: FragmentOrigin,
    pub agent_name: Option<String>,
    pub token_count: Option<i32>,
    pub created_by: Option<Uuid>,
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
        belongs_to = "super::outline_steps::Entity",
        from = "Column::StepId",
        to = "super::outline_steps::Column::Id",
        on_delete = "Cascade"
    )]
    Step,
    #[sea_orm(has_many = "super::fragment_versions::Entity")]
    Versions,
}

impl Related<super::screenplay_sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::outline_steps::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Step.def()
    }
}

impl Related<super::fragment_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Versions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
