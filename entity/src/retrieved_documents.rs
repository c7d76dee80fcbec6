//! `screenplay.retrieved_documents`: which documents an agent retrieved for a step.

use crate::enums::RetrievalMethod;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(schema_name = "screenplay", table_name = "retrieved_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub step_id: Option<Uuid>,
    pub document_id: Option<Uuid>,
    pub query_text: Option<String>,
    pub method: RetrievalMethod,
    pub score: f64,
    pub rank: i32,
    pub created_at: DateTimeWithTimeZone,
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
        on_delete = "SetNull"
    )]
    Step,
    #[sea_orm(
        belongs_to = "super::code_documents::Entity",
        from = "Column::DocumentId",
        to = "super::code_documents::Column::Id",
        on_delete = "SetNull"
    )]
    Document,
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

impl Related<super::code_documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
