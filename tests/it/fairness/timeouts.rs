//! Statement and lock timeouts: set in every transaction, answered `TIMEOUT`
//! with a retry hint (not `INTERNAL`), and checked against the request
//! timeout at start.

use std::time::Duration;

use reqwest::StatusCode;
use screenplay_api::{
    config::{Config, DatabaseArgs, ServeArgs},
    error::{AppError, ErrorCode, TimeoutReason},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use serde_json::json;

use super::{RENAME, extensions, lock_workspace, rename, timed_post};
use crate::helpers::{JWT_SECRET, TestApp, audit::count_when};

#[tokio::test]
async fn a_statement_waiting_on_a_lock_past_the_lock_timeout_answers_timeout() {
    let app = TestApp::spawn_with(&["--lock-timeout", "300ms", "--statement-timeout", "2s"]).await;
    let fx = app.tenant("locked").await;
    let workspace = app.workspace(&fx, "Scripts").await;
    let lock = lock_workspace(&app.db, workspace).await;

    let (status, retry_after, body, took) = timed_post(
        &app.client,
        &app.url("/graphql"),
        &fx.admin_token,
        RENAME,
        rename(workspace, "Renamed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(extensions(&body)["code"], "TIMEOUT", "{body}");
    assert_eq!(extensions(&body)["reason"], "lock", "{body}");
    assert_eq!(extensions(&body)["retryAfterSeconds"], 1, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body["data"].is_null(), "{body}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );

    // The same transaction's statements have the timeouts; nothing else does.
    drop(lock);
    let data = app
        .gql(Some(&fx.admin_token), RENAME, rename(workspace, "Renamed"))
        .await;
    assert_eq!(data["updateWorkspace"]["workspace"]["name"], "Renamed");
}

#[tokio::test]
async fn the_timeouts_must_fit_inside_the_request_timeout() {
    let config = |flags: &[&str]| {
        let mut args = vec!["--jwt-secret", JWT_SECRET];
        args.extend_from_slice(flags);
        let serve = ServeArgs::parse_flags(&args).expect("flags");
        Config::from_args(serve, DatabaseArgs::at("postgres://x@localhost/x", None))
    };
    let defaults = config(&[]).expect("defaults");
    assert_eq!(defaults.fairness.statement_timeout, Duration::from_secs(25));
    assert_eq!(defaults.fairness.lock_timeout, Duration::from_secs(10));
    assert_eq!(defaults.fairness.tenant_max_connections, 8);

    let short = config(&["--request-timeout", "3s"]).expect("derived from the request timeout");
    assert_eq!(short.fairness.statement_timeout, Duration::from_millis(2500));
    assert_eq!(short.fairness.lock_timeout, Duration::from_secs(1));

    let err = config(&["--statement-timeout", "30s"]).expect_err("not below the request timeout");
    let message = format!("{err:#}");
    assert!(
        message.contains("SCREENPLAY_STATEMENT_TIMEOUT") && message.contains("SCREENPLAY_REQUEST_TIMEOUT"),
        "{message}"
    );
    let err = config(&["--statement-timeout", "5s", "--lock-timeout", "6s"]).expect_err("lock above statement");
    assert!(format!("{err:#}").contains("SCREENPLAY_LOCK_TIMEOUT"), "{err:#}");
    let err = config(&["--tenant-max-connections", "17"]).expect_err("above the pool");
    assert!(
        format!("{err:#}").contains("SCREENPLAY_TENANT_MAX_CONNECTIONS"),
        "{err:#}"
    );
    assert_eq!(defaults.fairness.tenant_wait, Duration::from_secs(1));
    let patient = config(&["--tenant-wait", "250ms"]).expect("a shorter wait");
    assert_eq!(patient.fairness.tenant_wait, Duration::from_millis(250));
    let err = config(&["--request-timeout", "2s", "--tenant-wait", "2s"]).expect_err("not below the request timeout");
    assert!(format!("{err:#}").contains("SCREENPLAY_TENANT_WAIT"), "{err:#}");
}

/// An embedding provider that never answers in time.
async fn silent_provider() -> String {
    let app = axum::Router::new().route(
        "/v1/embeddings",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_request_answered_408_is_audited_with_the_timeout_and_leaves_no_transaction() {
    let provider = silent_provider().await;
    let app = TestApp::spawn_with(&[
        "--request-timeout",
        "1s",
        "--embedding-url",
        &provider,
        "--embedding-model",
        "fake-embed",
        "--embedding-dimensions",
        "8",
        "--embedding-timeout",
        "20s",
        "--embedding-max-retries",
        "0",
    ])
    .await;
    let fx = app.tenant("late").await;
    let workspace = app.workspace(&fx, "Scripts").await;

    let started = std::time::Instant::now();
    let (status, headers, body) = app
        .post_with(
            Some(&fx.admin_token),
            json!({
                "query": "query($i: SearchDocumentsInput!) { searchDocuments(input: $i) { score } }",
                "variables": { "i": { "workspaceId": workspace, "query": "a storm at sea", "mode": "VECTOR" } },
            }),
            &[("x-request-id", "late-search-1")],
        )
        .await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(extensions(&body)["code"], "TIMEOUT", "{body}");
    assert_eq!(extensions(&body)["reason"], "request", "{body}");
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert!(took < Duration::from_millis(1900), "{took:?}");
    eprintln!("answered 408 after {took:?}");

    let sql = "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'late-search-1' \
               AND outcome = 'error' AND error_codes = '{TIMEOUT}'";
    assert_eq!(count_when(&app, sql, |n| n == 1).await, 1, "the 408's audit row");
    assert_eq!(super::wait_unstuck(&app, Duration::from_secs(2)).await, (0, 0));
}

#[tokio::test]
async fn every_server_transaction_carries_the_timeouts_and_a_slow_statement_answers_timeout() {
    let app = TestApp::spawn_with(&["--statement-timeout", "700ms", "--lock-timeout", "300ms"]).await;
    let fx = app.tenant("slow").await;
    let db = &app.state.db;
    let settings = "SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout')";
    for tx in [
        db.begin_platform().await.expect("platform"),
        db.begin_tenant(fx.id.into()).await.expect("tenant"),
    ] {
        let row = tx
            .query_one_raw(Statement::from_string(DbBackend::Postgres, settings))
            .await
            .expect("query")
            .expect("row");
        assert_eq!(row.try_get_by_index::<String>(0).expect("text"), "700ms 300ms");
        tx.rollback().await.expect("rollback");
    }
    // Outside a transaction (the pool itself) nothing is limited.
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, settings))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get_by_index::<String>(0).expect("text"), "0 0");

    let tx = db.begin_platform().await.expect("platform");
    let err = AppError::from(
        tx.execute_unprepared("SELECT pg_sleep(2)")
            .await
            .expect_err("timed out"),
    );
    assert!(matches!(err, AppError::Timeout(TimeoutReason::Statement)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::Timeout);
}
