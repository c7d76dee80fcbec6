//! One tenant blocked on a lock holds at most its share of the pool: the
//! other tenants' requests and the readiness check go on.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{RENAME, extensions, lock_workspace, rename, timed_post};
use crate::helpers::{TestApp, audit::count_when};

#[tokio::test]
async fn a_tenant_blocked_on_a_lock_cannot_starve_the_others() {
    // Pool of 8 (the test harness), so each tenant may hold 4.
    let app = TestApp::spawn().await;
    let blocked = app.tenant("blocked").await;
    let other = app.tenant("other").await;
    let workspace = app.workspace(&blocked, "Scripts").await;
    let lock = lock_workspace(&app.db, workspace).await;

    let mut stuck = Vec::new();
    for i in 0..24 {
        let (client, url, token) = (app.client.clone(), app.url("/graphql"), blocked.admin_token.clone());
        stuck.push(tokio::spawn(async move {
            timed_post(&client, &url, &token, RENAME, rename(workspace, &format!("B{i}"))).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut others = Vec::new();
    for _ in 0..20 {
        let (client, url, token) = (app.client.clone(), app.url("/graphql"), other.admin_token.clone());
        others.push(tokio::spawn(async move {
            timed_post(
                &client,
                &url,
                &token,
                "{ me { role } workspaces { totalCount } }",
                json!({}),
            )
            .await
        }));
    }
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .status();
    let mut ok = 0;
    let mut slowest = Duration::ZERO;
    for t in others {
        let (status, _, body, took) = t.await.expect("task");
        slowest = slowest.max(took);
        ok += usize::from(status == StatusCode::OK && body.get("errors").is_none());
    }
    eprintln!("other tenant: {ok} of 20 ok, slowest {slowest:?}; readyz {ready}");
    assert!(ok >= 18, "only {ok} of the other tenant's 20 requests succeeded");
    assert_eq!(ready, StatusCode::OK);
    assert!(app.state.bulkhead.in_use(blocked.id.into()) <= 4);

    // Past the 1 s the requests beyond the share wait for it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(lock);
    let (mut done, mut limited) = (0, 0);
    for t in stuck {
        let (status, retry_after, body, _) = t.await.expect("task");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(extensions(&body)["code"], "RATE_LIMITED", "{body}");
            assert_eq!(retry_after.as_deref(), Some("1"));
            limited += 1;
        } else if status == StatusCode::OK && body.get("errors").is_none() {
            done += 1;
        }
    }
    eprintln!("blocked tenant: {done} done after the lock, {limited} refused RATE_LIMITED");
    assert_eq!((done, limited), (4, 20));

    // Every answer has its audit row, the refusals included.
    let rows = |outcome: &str, codes: &str| {
        format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' \
             AND 'updateWorkspace' = ANY(fields) AND outcome = '{outcome}' AND error_codes = '{codes}'",
            blocked.id
        )
    };
    assert_eq!(count_when(&app, &rows("ok", "{}"), |n| n == 4).await, 4);
    assert_eq!(
        count_when(&app, &rows("error", "{RATE_LIMITED}"), |n| n == 20).await,
        20
    );
}

/// `SCREENPLAY_TENANT_WAIT` is how long a request beyond the share waits.
#[tokio::test]
async fn the_wait_for_a_share_is_configured() {
    let app = TestApp::spawn_with(&["--tenant-max-connections", "1", "--tenant-wait", "200ms"]).await;
    let tenant = app.tenant("waits").await;
    let workspace = app.workspace(&tenant, "Scripts").await;
    let lock = lock_workspace(&app.db, workspace).await;
    let (client, url, token) = (app.client.clone(), app.url("/graphql"), tenant.admin_token.clone());
    let stuck = tokio::spawn(async move { timed_post(&client, &url, &token, RENAME, rename(workspace, "A")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body, took) = timed_post(
        &app.client,
        &app.url("/graphql"),
        &tenant.admin_token,
        "{ me { role } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(extensions(&body)["code"], "RATE_LIMITED");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(900),
        "refused after {took:?}, configured 200ms"
    );
    drop(lock);
    let (status, _, body, _) = stuck.await.expect("task");
    assert_eq!(status, StatusCode::OK, "{body}");
}
