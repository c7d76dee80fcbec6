//! GraphQL output types and the enums mirrored from the entities.

mod auth;
mod document;
mod enums;
mod tenant;
mod user;
mod workspace;

pub use auth::{AuthPayload, Me};
pub use document::{CountBy, Document, DocumentChunk, DocumentStatistics, IngestResult, SearchHit, SearchMode};
pub use enums::*;
pub use tenant::{Tenant, TenantLimits};
pub use user::User;
pub use workspace::Workspace;

use crate::service::page::Cursor;

/// The keyset cursor of a row with `created_at` and `id`.
pub fn cursor(created_at: &chrono::DateTime<chrono::FixedOffset>, id: uuid::Uuid) -> Cursor {
    Cursor {
        at: created_at.with_timezone(&chrono::Utc),
        id,
    }
}
