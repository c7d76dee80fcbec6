//! Requests whose clients give up (or that time out) leave nothing behind:
//! their statements are cancelled at once, no pooled connection is left
//! inside a transaction, and the server goes on answering.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use screenplay_api::auth::Role;
use serde_json::json;

use super::{RENAME, lock_workspace, rename, stuck_backends, timed_post, wait_unstuck};
use crate::helpers::{TestApp, cluster};

#[tokio::test]
async fn requests_dropped_by_their_clients_are_cancelled_and_leave_clean_connections() {
    // The lock timeout is long: only cancellation can free the waiting backends.
    let app = TestApp::spawn_with(&["--lock-timeout", "20s"]).await;
    let fx = app.tenant("gone").await;
    let workspace = app.workspace(&fx, "Scripts").await;
    let member = app.user(&fx, Role::Member).await;
    let lock = lock_workspace(&app.db, workspace).await;
    let superuser = cluster::connect(&app.db.superuser_url).await;

    // Clients that give up after 150 ms, 40 times, some at once.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .expect("client");
    let mut dropped = 0;
    for round in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (client, url, token) = (impatient.clone(), app.url("/graphql"), fx.admin_token.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "query": RENAME, "variables": rename(workspace, &format!("R{round}-{i}")) }))
                    .send()
                    .await
                    .is_err()
            }));
        }
        for t in tasks {
            dropped += usize::from(t.await.expect("task"));
        }
    }
    assert_eq!(dropped, 40, "every client should have given up");

    // Still under the lock: no backend of the server waits on it any more.
    let started = Instant::now();
    let counts = wait_unstuck(&app, Duration::from_secs(3)).await;
    assert_eq!(counts, (0, 0), "backends waiting on the lock / idle in transaction");
    eprintln!(
        "cancelled backends gone {:?} after the last client left",
        started.elapsed()
    );

    drop(lock);
    let (waiting, idle_in_tx) = stuck_backends(&superuser, &app.db.name).await;
    assert_eq!((waiting, idle_in_tx), (0, 0));

    // The next 200 requests (reads and writes, 8 at a time) all succeed.
    let mut ok = 0;
    for batch in 0..25 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (client, url) = (app.client.clone(), app.url("/graphql"));
            let (token, query, variables) = if i % 2 == 0 {
                (
                    fx.admin_token.clone(),
                    RENAME,
                    rename(workspace, &format!("N{batch}-{i}")),
                )
            } else {
                (
                    member.token.clone(),
                    "{ me { role } workspaces { totalCount } }",
                    json!({}),
                )
            };
            tasks.push(tokio::spawn(async move {
                let (status, _, body, _) = timed_post(&client, &url, &token, query, variables).await;
                status == StatusCode::OK && body.get("errors").is_none()
            }));
        }
        for t in tasks {
            ok += usize::from(t.await.expect("task"));
        }
    }
    assert_eq!(ok, 200, "requests after the cancelled ones");
    // A committed mutation's connection sits in the empty transaction its
    // COMMIT message reopens (see `audit::sink::insert_and_commit`) until the
    // pool sends the queued ROLLBACK, a moment after the answer: none is left.
    assert_eq!(wait_unstuck(&app, Duration::from_secs(1)).await, (0, 0));
}

/// Clients that give up at any moment of a request (waiting for BEGIN,
/// during the caller check, mid-resolution, at COMMIT), reads and writes
/// alike, 300 times: afterwards no pooled connection is inside a
/// transaction and the next 1,000 requests all succeed.
#[tokio::test]
async fn requests_cut_at_any_moment_leave_every_pooled_connection_idle() {
    let app = TestApp::spawn().await;
    let s = app.studio("cuts").await;
    crate::dataloaders::seed(&app, s.fx.id, s.workspace, 20, 5, 3).await;
    let nested = json!({ "first": 20 });
    let request = |i: usize| {
        if i.is_multiple_of(3) {
            (s.fx.admin_token.clone(), RENAME, rename(s.workspace, &format!("C{i}")))
        } else {
            (s.member.token.clone(), crate::dataloaders::NESTED, nested.clone())
        }
    };

    let mut cut = 0;
    for round in 0..30 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (token, query, variables) = request(round * 10 + i);
            let (client, url) = (app.client.clone(), app.url("/graphql"));
            // Spread over a request's life: 0 to 40 ms (a nested page takes ~20 ms here).
            let patience = Duration::from_micros(rand::random::<u64>() % 40_000);
            tasks.push(tokio::spawn(async move {
                let send = timed_post(&client, &url, &token, query, variables);
                tokio::time::timeout(patience, send).await.is_err()
            }));
        }
        for t in tasks {
            cut += usize::from(t.await.expect("task"));
        }
    }
    eprintln!("{cut} of 300 requests cut mid-flight");
    assert!(cut >= 100, "only {cut} requests were cut: the test did not test much");
    assert_eq!(wait_unstuck(&app, Duration::from_secs(5)).await, (0, 0));

    let mut ok = 0;
    for batch in 0..125 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (token, query, variables) = request(batch * 8 + i);
            let (client, url) = (app.client.clone(), app.url("/graphql"));
            tasks.push(tokio::spawn(async move {
                let (status, _, body, _) = timed_post(&client, &url, &token, query, variables).await;
                status == StatusCode::OK && body.get("errors").is_none() && !body["data"].is_null()
            }));
        }
        for t in tasks {
            ok += usize::from(t.await.expect("task"));
        }
    }
    assert_eq!(ok, 1000, "requests after the cut ones");
    // As above: a just-committed mutation's connection gets its ROLLBACK a moment later.
    assert_eq!(wait_unstuck(&app, Duration::from_secs(1)).await, (0, 0));
}
