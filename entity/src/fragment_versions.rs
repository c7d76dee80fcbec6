//! `screenplay.fragment_versions`: earlier versions of a fragment (its lineage).

use crate::enums::FragmentOrigin;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(schema_name = "screenplay", table_name = "fragment_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub fragment_id: Uuid,
    pub version: i32,
    pub character: Option<String>,
    pub content: String,
    pub origin: FragmentOrigin,
    pub agent_name: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::screenplay_fragments::Entity",
        from = "Column::FragmentId",
        to = "super::screenplay_fragments::Column::Id",
        on_delete = "Cascade"
    )]
    Fragment,
}

impl Related<super::screenplay_fragments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Fragment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
