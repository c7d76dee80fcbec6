//! Fast and fair under load: statement and lock timeouts, cancelled
//! requests that leave nothing behind, each tenant's share of the pool, the
//! request timeout's answer audited, and a shutdown bounded by its grace.
//! Each test holds a row lock from another connection (as the owner) and
//! sends requests that wait on it.

mod bulkhead;
mod cancellation;
mod outage;
mod reads;
mod shutdown;
mod timeouts;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, cluster, scalar_i64};

/// The mutation that waits on a locked workspace row.
pub const RENAME: &str = "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { id name } } }";

/// Locks the workspace's row (`FOR UPDATE`, as the owner) until the
/// returned transaction ends.
pub async fn lock_workspace(db: &TestDb, workspace: Uuid) -> DatabaseTransaction {
    let owner = db.owner().await;
    let tx = owner.begin().await.expect("begin");
    tx.execute_unprepared(&format!(
        "SELECT 1 FROM screenplay.workspaces WHERE id = '{workspace}' FOR UPDATE"
    ))
    .await
    .expect("lock");
    tx
}

/// The variables of [`RENAME`].
pub fn rename(workspace: Uuid, name: &str) -> Value {
    json!({ "i": { "id": workspace, "name": name } })
}

/// POSTs a GraphQL request; returns status, `Retry-After` and body, and how long it took.
pub async fn timed_post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> (StatusCode, Option<String>, Value, Duration) {
    let started = Instant::now();
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, retry_after, body, started.elapsed())
}

/// Backends of the server's pool (`application_name` screenplay) that are
/// waiting on a lock, and those idle inside a transaction, as a superuser sees them.
pub async fn stuck_backends(superuser: &DatabaseConnection, database: &str) -> (i64, i64) {
    let waiting = scalar_i64(
        superuser,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' \
             AND application_name = 'screenplay' AND wait_event_type = 'Lock'"
        ),
    )
    .await;
    let idle_in_tx = scalar_i64(
        superuser,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' \
             AND application_name = 'screenplay' AND state LIKE 'idle in transaction%'"
        ),
    )
    .await;
    (waiting, idle_in_tx)
}

/// Polls [`stuck_backends`] until both are 0 or `within` passed; returns the last counts.
pub async fn wait_unstuck(app: &TestApp, within: Duration) -> (i64, i64) {
    let superuser = cluster::connect(&app.db.superuser_url).await;
    let started = Instant::now();
    loop {
        let counts = stuck_backends(&superuser, &app.db.name).await;
        if counts == (0, 0) || started.elapsed() > within {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first error's `extensions`.
pub fn extensions(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]
}
