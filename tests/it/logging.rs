//! Logs: every line of a request carries the operation's request id,
//! tenant, user and operation, in JSON logs too.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, process::ServerProcess};

#[tokio::test]
async fn a_requests_log_lines_carry_its_request_tenant_user_and_operation() {
    let db = TestDb::create().await;
    let app = TestApp::spawn_on(db.clone(), &[]).await;
    let fx = app.tenant("logs").await;
    let server = ServerProcess::spawn_with_args(
        &db,
        &["--no-migrate"],
        &[
            ("SCREENPLAY_LOG_FORMAT", "json"),
            ("RUST_LOG", "warn,screenplay_api=debug"),
        ],
    )
    .await;
    let response = reqwest::Client::new()
        .post(server.url("/graphql"))
        .bearer_auth(&fx.admin_token)
        .json(&json!({ "query": "query MyWorkspaces { workspaces { totalCount } }" }))
        .send()
        .await
        .expect("request");
    let request_id = response.headers()["x-request-id"].to_str().expect("id").to_owned();
    assert!(response.status().is_success());

    let mut line = None;
    for _ in 0..50 {
        line = server
            .log_lines()
            .into_iter()
            .find(|l| l.contains("operation finished"));
        if line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = line.expect("the operation's log line");
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let span = &event["span"];
    assert_eq!(span["name"], "operation", "{event}");
    assert_eq!(span["request_id"], request_id.as_str(), "{event}");
    assert_eq!(span["tenant_id"], fx.id.to_string(), "{event}");
    assert_eq!(span["user_id"], fx.admin_id.to_string(), "{event}");
    assert_eq!(span["operation"], "query MyWorkspaces", "{event}");
    server.stop().await;
}

/// Written to a pipe or a file, text logs carry no colour codes.
#[tokio::test]
async fn text_logs_are_plain_when_not_written_to_a_terminal() {
    let db = TestDb::create().await;
    let mut server = ServerProcess::spawn_with_args(&db, &["--no-migrate"], &[("RUST_LOG", "info")]).await;
    let _ = reqwest::get(server.url("/healthz")).await;
    server.terminate();
    server.wait().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = server.log_lines();
    assert!(lines.iter().any(|l| l.contains("INFO")), "{lines:?}");
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "escape codes in: {lines:?}"
    );
}
