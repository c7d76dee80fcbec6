//! Reading the audit log and usage: what tenant admins see of their tenant
//! and platform admins of any tenant.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use entity::{
    audit_logs, code_documents,
    enums::{AuditOutcome, QuotaMetric},
    tenants,
};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement, prelude::*};
use uuid::Uuid;

use super::{
    page::{self, Page, PageResult},
    usage,
};
use crate::db::TenantOwned;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};

/// Filters of `auditLogs`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Platform admins only; tenant admins always see their own tenant.
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<Uuid>,
    pub operation_name: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn filtered(filter: &AuditFilter) -> AppResult<sea_orm::Select<audit_logs::Entity>> {
    let mut select = match filter.tenant_id {
        Some(t) => audit_logs::Entity::find_in(t),
        None => audit_logs::Entity::find(),
    };
    if let Some(u) = filter.user_id {
        select = select.filter(audit_logs::Column::UserId.eq(u));
    }
    if let Some(name) = &filter.operation_name {
        select = select.filter(audit_logs::Column::OperationName.eq(name.clone()));
    }
    if let Some(outcome) = filter.outcome {
        select = select.filter(audit_logs::Column::Outcome.eq(outcome));
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(AppError::bad_input(
            "filter.to",
            "`filter.to` must be after `filter.from`",
        ));
    }
    if let Some(from) = filter.from {
        select = select.filter(audit_logs::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        select = select.filter(audit_logs::Column::CreatedAt.lt(to));
    }
    Ok(select)
}

/// One page of audit rows, newest first. Row-level security limits a tenant
/// transaction to its tenant whatever the filter says.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    page: &Page,
) -> AppResult<PageResult<audit_logs::Model>> {
    page::fetch(
        db,
        filtered(filter)?,
        audit_logs::Column::CreatedAt,
        audit_logs::Column::Id,
        page,
    )
    .await
}

pub async fn count(db: &impl ConnectionTrait, filter: &AuditFilter) -> AppResult<u64> {
    Ok(filtered(filter)?.count(db).await?)
}

/// Time-series bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

impl Granularity {
    fn sql(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Month => "month",
        }
    }
}

/// Sum of `metric` per bucket in `[from, to)`, empty buckets left out.
pub async fn series(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    metric: QuotaMetric,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    granularity: Granularity,
) -> AppResult<Vec<(DateTime<Utc>, Decimal)>> {
    if from >= to {
        return Err(AppError::bad_input("to", "`to` must be after `from`"));
    }
    if to - from > Duration::days(3 * 366) {
        return Err(AppError::bad_input("from", "ask for at most three years at a time"));
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT date_trunc($5, bucket_start, 'UTC') AS bucket, sum(value) AS value \
             FROM screenplay.quota_usage \
             WHERE tenant_id = $1 AND metric = $2 AND bucket_start >= $3 AND bucket_start < $4 \
             GROUP BY 1 ORDER BY 1",
            [
                tenant_id.into(),
                metric.as_str().into(),
                from.into(),
                to.into(),
                granularity.sql().into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<DateTime<Utc>>("", "bucket")?,
                row.try_get::<Decimal>("", "value")?,
            ))
        })
        .collect()
}

/// The window a meter of the usage summary counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Day,
    Month,
    /// Everything held now (documents).
    Total,
}

/// One line of the usage summary.
#[derive(Debug, Clone)]
pub struct Meter {
    pub metric: &'static str,
    pub window: Window,
    pub used: Decimal,
    pub limit: Option<i64>,
    pub resets_at: Option<DateTime<Utc>>,
}

/// Current usage of a tenant against its limits.
pub async fn summary(db: &impl ConnectionTrait, tenant_id: TenantId) -> AppResult<(tenants::Model, Vec<Meter>)> {
    let tenant = tenants::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("tenant"))?;
    let now = Utc::now();
    let day = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    let month = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let next_month = if now.month() == 12 {
        Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(now.year(), now.month() + 1, 1, 0, 0, 0)
    }
    .single()
    .unwrap_or(now);
    let next_day = day + Duration::days(1);
    let plan = [
        (QuotaMetric::Requests, Window::Day, None),
        (QuotaMetric::Mutations, Window::Day, None),
        (QuotaMetric::SearchQueries, Window::Day, None),
        (QuotaMetric::LlmTokens, Window::Day, tenant.llm_tokens_per_day),
        (QuotaMetric::LlmCost, Window::Month, None),
        (
            QuotaMetric::EmbeddingTokens,
            Window::Month,
            tenant.embedding_tokens_per_month,
        ),
        (QuotaMetric::DocumentsIngested, Window::Month, None),
    ];
    let mut meters = Vec::with_capacity(plan.len() + 1);
    for (metric, window, limit) in plan {
        let (from, to) = match window {
            Window::Day => (day, next_day),
            _ => (month, next_month),
        };
        meters.push(Meter {
            metric: metric.as_str(),
            window,
            used: usage::used_between(db, tenant_id, metric, from, to).await?,
            limit,
            resets_at: Some(to),
        });
    }
    let documents = code_documents::Entity::find_in(tenant_id).count(db).await?;
    meters.push(Meter {
        metric: "documents",
        window: Window::Total,
        used: Decimal::from(documents),
        limit: tenant.max_documents.map(i64::from),
        resets_at: None,
    });
    Ok((tenant, meters))
}
