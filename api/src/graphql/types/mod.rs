//! GraphQL output types and the enums mirrored from the entities.

mod audit;
mod auth;
mod document;
mod enums;
mod event;
pub mod monitoring;
mod session;
mod tenant;
mod user;
mod workspace;

pub use audit::{AuditLog, AuditOutcome, Granularity, QuotaMetric, UsageMeter, UsagePoint, UsageSummary, UsageWindow};
pub use auth::{AuthPayload, Me};
pub use document::{
    CountBy, Document, DocumentChunk, DocumentStatistics, DocumentStatus, IngestResult, IngestionJob,
    IngestionJobStatus, SearchHit, SearchMode,
};
pub use enums::*;
pub use event::{SessionEvent, SessionEventType};
pub use session::{
    ExecutionLog, Fragment, FragmentVersion, LlmCall, OutlineStep, RetrievedDocument, Session, SessionUsage,
};
pub use tenant::{Tenant, TenantLimits};
pub use user::User;
pub use workspace::Workspace;
