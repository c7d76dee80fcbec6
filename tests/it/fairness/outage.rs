//! A database outage: answers say `UNAVAILABLE` with a retry hint within
//! about a second (not `INTERNAL`, not a pool timeout after ten), `/readyz`
//! answers 503 within a second, and the server serves again once the
//! database is back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::{extensions, timed_post};
use crate::helpers::{TestApp, TestDb, proxy::TcpProxy};

const ME: &str = "{ me { role } }";

#[tokio::test]
async fn during_an_outage_answers_are_unavailable_with_a_retry_hint_and_readyz_fails_fast() {
    let db = TestDb::create().await;
    let mut url = url::Url::parse(&db.app_url).expect("url");
    let target = format!("127.0.0.1:{}", url.port().expect("port"))
        .parse()
        .expect("addr");
    let proxy = TcpProxy::start(target).await;
    url.set_port(Some(proxy.addr.port())).expect("port");
    let app = TestApp::spawn_on_url(db, url.to_string(), &[]).await;
    let fx = app.tenant("outage").await;
    let client = reqwest::Client::new();
    let graphql = app.url("/graphql");
    let (_, _, body, _) = timed_post(&client, &graphql, &fx.admin_token, ME, json!({})).await;
    assert_eq!(body["data"]["me"]["role"], "TENANT_ADMIN", "{body}");

    proxy.cut().await;
    for attempt in 0..3 {
        let (status, retry_after, body, took) = timed_post(&client, &graphql, &fx.admin_token, ME, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(extensions(&body)["code"], "UNAVAILABLE", "attempt {attempt}: {body}");
        assert_eq!(extensions(&body)["retryAfterSeconds"], 2);
        // A request-level error has no place in the document.
        assert!(body["errors"][0].get("locations").is_none(), "{body}");
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert!(
            took < Duration::from_secs(3),
            "attempt {attempt} answered after {took:?}"
        );
    }
    let started = Instant::now();
    let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "/readyz took {:?}",
        started.elapsed()
    );

    proxy.restore().await;
    let started = Instant::now();
    loop {
        let (_, _, body, _) = timed_post(&client, &graphql, &fx.admin_token, ME, json!({})).await;
        if body["data"]["me"]["role"] == "TENANT_ADMIN" {
            break;
        }
        assert_eq!(extensions(&body)["code"], "UNAVAILABLE", "{body}");
        assert!(started.elapsed() < Duration::from_secs(15), "not serving again: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
}

/// Pooled connections are not pinged before every request (a round trip
/// each), only after a second idle: one the database closed while it sat
/// in the pool still never reaches a request.
#[tokio::test]
async fn a_pooled_connection_closed_while_idle_is_replaced_before_use() {
    const SESSIONS: &str = "{ sessions(first: 1) { edges { node { id } } } }";
    let app = TestApp::spawn().await;
    let fx = app.tenant("idle-closed").await;
    let client = reqwest::Client::new();
    let graphql = app.url("/graphql");
    // A few connections into the pool: concurrent requests.
    let warm = (0..4).map(|_| timed_post(&client, &graphql, &fx.admin_token, SESSIONS, json!({})));
    for (_, _, body, _) in futures::future::join_all(warm).await {
        assert_eq!(body["data"]["sessions"]["edges"], json!([]), "{body}");
    }
    let superuser = crate::helpers::cluster::connect(&app.db.superuser_url).await;
    let killed = superuser
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS killed FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                app.db.name
            ),
        ))
        .await
        .expect("terminate")
        .expect("row")
        .try_get::<i64>("", "killed")
        .expect("killed");
    assert!(killed >= 1, "no pooled connection to close");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for attempt in 0..4 {
        let (_, _, body, _) = timed_post(&client, &graphql, &fx.admin_token, SESSIONS, json!({})).await;
        assert_eq!(
            body["data"]["sessions"]["edges"],
            json!([]),
            "attempt {attempt} after {killed} connections closed: {body}"
        );
    }
}
