use async_graphql::{Enum, Json, SimpleObject};
use chrono::{DateTime, FixedOffset, Utc};
use entity::audit_logs;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::tenant::TenantLimits;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::AuditOutcome")]
pub enum AuditOutcome {
    Ok,
    Error,
}

/// What `quota_usage` counts.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::QuotaMetric")]
pub enum QuotaMetric {
    Requests,
    Mutations,
    SearchQueries,
    DocumentsIngested,
    EmbeddingTokens,
    LlmTokens,
    LlmCost,
}

/// One audited operation.
#[derive(SimpleObject)]
pub struct AuditLog {
    pub id: Uuid,
    pub created_at: DateTime<FixedOffset>,
    /// Null for requests without a valid token and for platform admins.
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub subject: Option<String>,
    pub role: Option<String>,
    pub request_id: String,
    /// query, mutation or subscription; null when the document did not parse.
    pub operation_type: Option<String>,
    pub operation_name: Option<String>,
    /// Top-level fields of the operation.
    pub fields: Vec<String>,
    pub resource_type: Option<String>,
    pub resource_ids: Vec<String>,
    pub outcome: AuditOutcome,
    pub error_codes: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Variables (secrets redacted) and, for mutations, what changed.
    pub details: Json<serde_json::Value>,
    pub duration_ms: i32,
}

impl From<audit_logs::Model> for AuditLog {
    fn from(m: audit_logs::Model) -> Self {
        Self {
            id: m.id,
            created_at: m.created_at,
            tenant_id: m.tenant_id,
            user_id: m.user_id,
            subject: m.subject,
            role: m.role,
            request_id: m.request_id,
            operation_type: m.operation_type,
            operation_name: m.operation_name,
            fields: m.fields,
            resource_type: m.resource_type,
            resource_ids: m.resource_ids,
            outcome: m.outcome.into(),
            error_codes: m.error_codes,
            ip: m.ip,
            user_agent: m.user_agent,
            details: Json(m.details),
            duration_ms: m.duration_ms,
        }
    }
}

/// Bucket size of a usage time series.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

/// One bucket of a usage time series.
#[derive(SimpleObject)]
pub struct UsagePoint {
    pub bucket_start: DateTime<Utc>,
    pub value: Decimal,
}

/// The window a usage meter counts over.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UsageWindow {
    /// The current UTC day.
    Day,
    /// The current UTC month.
    Month,
    /// Everything held now.
    Total,
}

/// Usage of one metric against its limit.
#[derive(SimpleObject)]
pub struct UsageMeter {
    /// A `quota_usage` metric, or `documents` (documents held).
    pub metric: String,
    pub window: UsageWindow,
    pub used: Decimal,
    /// Null when unlimited.
    pub limit: Option<i64>,
    /// Null when unlimited.
    pub remaining: Option<Decimal>,
    /// Null for limits that do not reset.
    pub resets_at: Option<DateTime<Utc>>,
}

/// A tenant's current usage against its limits.
#[derive(SimpleObject)]
pub struct UsageSummary {
    pub tenant_id: Uuid,
    pub limits: TenantLimits,
    pub meters: Vec<UsageMeter>,
}
