//! Statement and lock timeouts: set in every transaction, answered `TIMEOUT`
//! with a retry hint (not `INTERNAL`), and checked against the request
//! timeout at start.

use std::time::Duration;

use reqwest::StatusCode;
use screenplay_api::config::{Config, DatabaseArgs, ServeArgs};

use super::{RENAME, extensions, lock_workspace, rename, timed_post};
use crate::helpers::{JWT_SECRET, TestApp};

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
}
