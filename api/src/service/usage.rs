//! Usage counters (`quota_usage`, per tenant, metric and hour) and the
//! tenant limits checked against them.
//!
//! Counters that belong to a change (documents ingested, tokens of a logged
//! LLM call) are added in the same transaction as the change, so a rolled
//! back change counts nothing. Limit checks take a per-tenant, per-metric
//! advisory lock for the rest of the transaction, so two concurrent requests
//! cannot both slip under a limit.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use entity::{code_documents, enums::QuotaMetric, tenants};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement};

use crate::db::TenantOwned;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult, QuotaDetail};

/// Adds `amount` to `metric` of the tenant's current hour bucket.
pub async fn add(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    metric: QuotaMetric,
    amount: Decimal,
) -> AppResult<()> {
    if amount.is_zero() {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        add_sql("$1", "$2", "$3"),
        [tenant_id.into(), metric.as_str().into(), amount.into()],
    ))
    .await?;
    Ok(())
}

/// The statement of [`add`], with these expressions for the tenant, the
/// metric and the amount.
fn add_sql(tenant: &str, metric: &str, amount: &str) -> String {
    format!(
        "INSERT INTO screenplay.quota_usage (tenant_id, metric, bucket_start, value) \
         VALUES ({tenant}, {metric}, date_trunc('hour', now()), {amount}) \
         ON CONFLICT (tenant_id, metric, bucket_start) \
         DO UPDATE SET value = quota_usage.value + EXCLUDED.value, updated_at = now()"
    )
}

/// The window a limit counts over.
fn window(metric: QuotaMetric, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let day = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()?;
    match metric {
        QuotaMetric::LlmTokens => Some((day, day + Duration::days(1))),
        QuotaMetric::EmbeddingTokens => {
            let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single()?;
            let (y, m) = if now.month() == 12 {
                (now.year() + 1, 1)
            } else {
                (now.year(), now.month() + 1)
            };
            Some((start, Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?))
        }
        _ => None,
    }
}

/// Refuses with `QUOTA_EXCEEDED` when adding `amount` of `metric` would pass
/// the tenant's limit: LLM tokens per day, embedding tokens per month, or
/// (for `DocumentsIngested`) the maximum number of documents held.
pub async fn ensure_within(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    metric: QuotaMetric,
    amount: i64,
) -> AppResult<()> {
    check(db, tenant_id, metric, amount, true).await
}

/// The same check without the lock, for reads (a search embedding its query):
/// concurrent searches do not wait for each other, and a burst of them can pass
/// the limit by at most their own tokens.
pub async fn ensure_within_unlocked(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    metric: QuotaMetric,
    amount: i64,
) -> AppResult<()> {
    check(db, tenant_id, metric, amount, false).await
}

async fn check(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    metric: QuotaMetric,
    amount: i64,
    lock: bool,
) -> AppResult<()> {
    let tenant = tenants::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("tenant"))?;
    let limit = match metric {
        QuotaMetric::LlmTokens => tenant.llm_tokens_per_day,
        QuotaMetric::EmbeddingTokens => tenant.embedding_tokens_per_month,
        QuotaMetric::DocumentsIngested => tenant.max_documents.map(i64::from),
        _ => None,
    };
    let Some(limit) = limit else { return Ok(()) };
    if lock {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("quota:{tenant_id}:{}", metric.as_str()).into()],
        ))
        .await?;
    }
    let now = Utc::now();
    let (usage, resets_at) = if metric == QuotaMetric::DocumentsIngested {
        let held = code_documents::Entity::find_in(tenant_id).count(db).await?;
        (held as i64, None)
    } else {
        let (from, to) = window(metric, now).ok_or_else(|| AppError::internal(anyhow::anyhow!("no quota window")))?;
        (
            used_between(db, tenant_id, metric, from, to)
                .await?
                .to_i64()
                .unwrap_or(i64::MAX),
            Some(to),
        )
    };
    if usage.saturating_add(amount) > limit {
        return Err(AppError::QuotaExceeded(QuotaDetail {
            metric: metric.as_str(),
            limit: limit as f64,
            usage: usage as f64,
            resets_at,
        }));
    }
    Ok(())
}

/// Sum of `metric` over hour buckets in `[from, to)`.
pub async fn used_between(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    metric: QuotaMetric,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Decimal> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT coalesce(sum(value), 0) AS used FROM screenplay.quota_usage \
             WHERE tenant_id = $1 AND metric = $2 AND bucket_start >= $3 AND bucket_start < $4",
            [tenant_id.into(), metric.as_str().into(), from.into(), to.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "used")?,
        None => Decimal::ZERO,
    })
}
