//! `screenplay.code_documents`: chunks of reference documents with their embeddings.
//!
//! The generated `search_vector` and `title_phrase` columns are maintained by
//! the database and not mapped here.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(schema_name = "screenplay", table_name = "code_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub source_path: String,
    pub title: String,
    pub content: String,
    pub content_hash: String,
    pub language: String,
    pub chunk_index: i32,
    pub chunk_count: i32,
    pub metadata: Json,
    #[serde(skip_serializing)]
    pub embedding: Option<PgVector>,
    pub embedding_model: Option<String>,
    pub token_count: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub section: Option<String>,
    pub source_format: Option<String>,
    pub source_encoding: Option<String>,
    pub chunking: Option<String>,
    /// `PENDING`, `EMBEDDING`, `READY` (searchable) or `FAILED`.
    pub status: String,
    pub status_reason: Option<String>,
    pub ingestion_job_id: Option<Uuid>,
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
    #[sea_orm(has_many = "super::retrieved_documents::Entity")]
    Retrievals,
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::retrieved_documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Retrievals.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
