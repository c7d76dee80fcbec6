use async_graphql::{Json, SimpleObject};
use chrono::{DateTime, FixedOffset};
use entity::workspaces;
use uuid::Uuid;

use super::enums::WorkspaceStatus;

/// A tenant's space for sessions and reference documents.
#[derive(SimpleObject, Clone)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub settings: Json<serde_json::Value>,
    pub status: WorkspaceStatus,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

impl From<workspaces::Model> for Workspace {
    fn from(m: workspaces::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            slug: m.slug,
            description: m.description,
            settings: Json(m.settings),
            status: m.status.into(),
            created_by: m.created_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
