use std::sync::Arc;

use async_graphql::{Context, InputObject, Object};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::{
    auth::Action,
    domain::TenantId,
    error::{AppError, AppResult},
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        guards::Allow,
        types::{AuditLog, AuditOutcome, Granularity, QuotaMetric, UsageMeter, UsagePoint, UsageSummary, UsageWindow},
    },
    request::{Caller, RequestScope},
    service::{
        audit_log::{self, AuditFilter},
        page,
    },
};

#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Platform admins only (tenant admins always see their own tenant).
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub operation_name: Option<String>,
    pub outcome: Option<AuditOutcome>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// The transaction and the tenant a usage question is about: tenant admins
/// ask about their own tenant (another's id is NOT_FOUND), platform admins
/// must name one.
async fn target_tenant(
    scope: &RequestScope,
    requested: Option<Uuid>,
) -> AppResult<(Arc<DatabaseTransaction>, TenantId)> {
    let requested = requested.map(TenantId::from);
    match scope.open().await? {
        (tx, Caller::Platform { .. }) => {
            let tenant =
                requested.ok_or_else(|| AppError::bad_input("tenantId", "platform admins must name a tenant"))?;
            Ok((tx, tenant))
        }
        (tx, Caller::Tenant(caller)) => match requested {
            Some(t) if t != caller.tenant_id => Err(AppError::not_found("tenant")),
            _ => Ok((tx, caller.tenant_id)),
        },
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Audited operations, newest first: tenant admins see their tenant,
    /// platform admins any tenant (and requests without one).
    #[graphql(
        guard = "Allow(Action::ReadAudit)",
        complexity = "crate::graphql::cost::page(first, last, child_complexity)"
    )]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<AuditLog>> {
        let page = page::Page::new(first, after, last, before, ctx.app().config.limits.max_page_size)?;
        let filter = filter.unwrap_or_default();
        let (tx, caller) = ctx.scope().open().await?;
        let requested = filter.tenant_id.map(TenantId::from);
        let tenant_id = match caller {
            Caller::Platform { .. } => requested,
            Caller::Tenant(c) => match requested {
                Some(t) if t != c.tenant_id => return Err(AppError::not_found("tenant").into()),
                _ => Some(c.tenant_id),
            },
        };
        let filter = AuditFilter {
            tenant_id,
            user_id: filter.user_id,
            operation_name: filter.operation_name,
            outcome: filter.outcome.map(Into::into),
            from: filter.from,
            to: filter.to,
        };
        let rows = audit_log::list(&*tx, &filter, &page).await?;
        let total = TotalCount::new(move || {
            let (tx, filter) = (tx.clone(), filter.clone());
            Box::pin(async move { audit_log::count(&*tx, &filter).await })
        });
        Ok(connection::page(
            rows,
            |r| cursor(&r.created_at, r.id),
            AuditLog::from,
            total,
        ))
    }

    /// A usage time series of one metric over `[from, to)`.
    #[graphql(guard = "Allow(Action::ReadAudit)")]
    async fn quota_usage(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<Uuid>,
        metric: QuotaMetric,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "Granularity::Hour")] granularity: Granularity,
    ) -> async_graphql::Result<Vec<UsagePoint>> {
        let (tx, tenant) = target_tenant(ctx.scope(), tenant_id).await?;
        let granularity = match granularity {
            Granularity::Hour => audit_log::Granularity::Hour,
            Granularity::Day => audit_log::Granularity::Day,
            Granularity::Month => audit_log::Granularity::Month,
        };
        let points = audit_log::series(&*tx, tenant, metric.into(), from, to, granularity).await?;
        Ok(points
            .into_iter()
            .map(|(bucket_start, value)| UsagePoint { bucket_start, value })
            .collect())
    }

    /// Current usage against the tenant's limits.
    #[graphql(guard = "Allow(Action::ReadAudit)")]
    async fn usage_summary(&self, ctx: &Context<'_>, tenant_id: Option<Uuid>) -> async_graphql::Result<UsageSummary> {
        let (tx, tenant) = target_tenant(ctx.scope(), tenant_id).await?;
        let (tenant, meters) = audit_log::summary(&*tx, tenant).await?;
        let limits = crate::graphql::types::Tenant::from(tenant.clone()).limits;
        Ok(UsageSummary {
            tenant_id: tenant.id,
            limits,
            meters: meters
                .into_iter()
                .map(|m| UsageMeter {
                    metric: m.metric.to_owned(),
                    window: match m.window {
                        audit_log::Window::Day => UsageWindow::Day,
                        audit_log::Window::Month => UsageWindow::Month,
                        audit_log::Window::Total => UsageWindow::Total,
                    },
                    remaining: m.limit.map(|l| (Decimal::from(l) - m.used).max(Decimal::ZERO)),
                    used: m.used,
                    limit: m.limit,
                    resets_at: m.resets_at,
                })
                .collect(),
        })
    }
}
