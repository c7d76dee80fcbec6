use async_graphql::{Json, SimpleObject};
use chrono::{DateTime, FixedOffset};
use entity::tenants;
use uuid::Uuid;

use super::enums::{TenantPlan, TenantStatus};

/// An organisation using the service.
#[derive(SimpleObject, Clone)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub plan: TenantPlan,
    pub limits: TenantLimits,
    pub settings: Json<serde_json::Value>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

/// Limits of a tenant; null means unlimited.
#[derive(SimpleObject, Clone, Copy)]
pub struct TenantLimits {
    /// Requests per minute (rate limit).
    pub requests_per_minute: Option<i32>,
    pub llm_tokens_per_day: Option<i64>,
    pub embedding_tokens_per_month: Option<i64>,
    pub max_documents: Option<i32>,
}

impl From<tenants::Model> for Tenant {
    fn from(m: tenants::Model) -> Self {
        Self {
            id: m.id,
            slug: m.slug,
            name: m.name,
            status: m.status.into(),
            plan: m.plan.into(),
            limits: TenantLimits {
                requests_per_minute: m.requests_per_minute,
                llm_tokens_per_day: m.llm_tokens_per_day,
                embedding_tokens_per_month: m.embedding_tokens_per_month,
                max_documents: m.max_documents,
            },
            settings: Json(m.settings),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
