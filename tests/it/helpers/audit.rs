//! Reading what the audit writer wrote: rows and usage counters, polled until they land.

use std::time::Duration;

use sea_orm::ConnectionTrait;

use super::{TestApp, scalar_i64};

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    scalar_i64(&app.owner().await, sql).await
}

/// The SQL summing a tenant's usage counter over all hours.
pub fn counter_sql(tenant: uuid::Uuid, metric: &str) -> String {
    format!(
        "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage WHERE tenant_id = '{tenant}' AND metric = '{metric}'"
    )
}

pub async fn counter(app: &TestApp, tenant: uuid::Uuid, metric: &str) -> i64 {
    count(app, &counter_sql(tenant, metric)).await
}

/// Polls the count `sql` until `done` holds or 5 s have passed (rows and
/// counters from the queue land within a flush); returns the last value.
pub async fn count_when(app: &TestApp, sql: &str, done: impl Fn(i64) -> bool) -> i64 {
    let mut value = count(app, sql).await;
    for _ in 0..50 {
        if done(value) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        value = count(app, sql).await;
    }
    value
}

/// One text column of the audit row of `request_id`, as the owner sees it.
pub async fn audit_text(app: &TestApp, request_id: &str, expr: &str) -> Option<String> {
    let row = app
        .owner()
        .await
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("SELECT ({expr})::text FROM screenplay.audit_logs WHERE request_id = $1"),
            [request_id.into()],
        ))
        .await
        .expect("query")?;
    row.try_get_by_index::<Option<String>>(0).expect("text")
}

pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
