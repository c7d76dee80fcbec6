//! SIGTERM's grace period is a bound: a mutation blocked past it is
//! cancelled, answered, audited, and the process exits soon after.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{RENAME, extensions, lock_workspace, rename};
use crate::helpers::{TestApp, TestDb, audit::count_when, process::ServerProcess};

#[tokio::test]
async fn a_request_blocked_past_the_grace_period_is_answered_and_audited_and_the_process_exits() {
    let db = TestDb::create().await;
    // The fixtures come through an in-process server on the same database.
    let mut setup = TestApp::spawn_on(db.clone(), &[]).await;
    let fx = setup.tenant("term").await;
    let workspace = setup.workspace(&fx, "Scripts").await;
    setup.stop().await;

    let mut server = ServerProcess::spawn_with_args(
        &db,
        &["--no-migrate"],
        &[
            ("SCREENPLAY_SHUTDOWN_GRACE", "2s"),
            ("SCREENPLAY_DB_POOL_SIZE", "4"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let lock = lock_workspace(&db, workspace).await;
    let client = reqwest::Client::new();
    let request = client
        .post(server.url("/graphql"))
        .bearer_auth(&fx.admin_token)
        .header("x-request-id", "term-blocked-1")
        .json(&json!({ "query": RENAME, "variables": rename(workspace, "Late") }))
        .send();
    let answer = tokio::spawn(async move {
        let resp = request.await.expect("an answer");
        (resp.status(), resp.json::<serde_json::Value>().await.expect("json"))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait().await;
    let exited = signalled.elapsed();
    let (http_status, body) = answer.await.expect("task");
    eprintln!("exited {exited:?} after SIGTERM (grace 2s): {status}; answer {http_status} {body}");
    assert!(status.success(), "{status}");
    assert!(exited < Duration::from_secs(3), "exit took {exited:?}");
    assert_eq!(http_status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(extensions(&body)["code"], "TIMEOUT", "{body}");
    assert_eq!(extensions(&body)["reason"], "shutdown", "{body}");
    drop(lock);

    let probe = TestApp::spawn_on(db, &[]).await;
    let sql = "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'term-blocked-1' \
               AND outcome = 'error' AND error_codes = '{TIMEOUT}'";
    assert_eq!(
        count_when(&probe, sql, |n| n == 1).await,
        1,
        "the answered request's audit row"
    );
    let name = scalar_name(&probe).await;
    assert_eq!(name, "Scripts", "nothing of the cancelled mutation was kept");
}

async fn scalar_name(app: &TestApp) -> String {
    use sea_orm::ConnectionTrait;
    let row = app
        .owner()
        .await
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT name FROM screenplay.workspaces WHERE name IN ('Scripts', 'Late')",
        ))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<String>(0).expect("name")
}
