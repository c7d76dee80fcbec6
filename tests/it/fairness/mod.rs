//! Fast and fair under load: statement and lock timeouts.
//! Each test holds a row lock from another connection (as the owner) and
//! sends requests that wait on it.

mod timeouts;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestDb;

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

/// The first error's `extensions`.
pub fn extensions(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]
}
