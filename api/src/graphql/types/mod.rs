//! GraphQL output types and the enums mirrored from the entities.

mod agent_records;
mod audit;
mod auth;
mod document;
mod enums;
mod event;
mod fragment;
pub mod monitoring;
mod outline;
mod session;
mod tenant;
mod user;
mod workspace;

pub use agent_records::{ExecutionLog, LlmCall, RetrievedDocument};
pub use audit::{AuditLog, AuditOutcome, Granularity, QuotaMetric, UsageMeter, UsagePoint, UsageSummary, UsageWindow};
pub use auth::{AuthPayload, Me};
pub use document::{CountBy, Document, DocumentChunk, DocumentStatistics, IngestResult, SearchHit, SearchMode};
pub use enums::*;
pub use event::{SessionEvent, SessionEventType};
pub use fragment::{Fragment, FragmentVersion};
pub use outline::OutlineStep;
pub use session::{Session, SessionUsage};
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
