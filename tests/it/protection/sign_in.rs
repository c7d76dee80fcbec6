//! Sign-in that cannot be abused: attempts limited per client address,
//! tenant and account (existing or not), one sign-in field per operation,
//! password hashing bounded with a fast refusal beyond its queue, and no row
//! lock held while a password is hashed.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cluster::TestDb, process::ServerProcess};

const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }";

async fn login(
    app: &TestApp,
    slug: &str,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let body = json!({ "query": LOGIN, "variables": { "input": { "tenantSlug": slug, "email": email, "password": password } } });
    let (status, _, body) = app.post_with(None, body, headers).await;
    (status, body)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn attempts_are_limited_per_account_whether_it_exists_or_not() {
    let app = TestApp::spawn_with(&["--login-per-account-per-minute", "3"]).await;
    let fx = app.tenant("tries").await;
    let accounts = [
        (fx.slug.as_str(), "admin@tries.test"),  // exists; wrong password
        (fx.slug.as_str(), "nobody@tries.test"), // unknown account
        ("no-such-tenant", "admin@tries.test"),  // unknown tenant
    ];
    for (slug, email) in accounts {
        for _ in 0..3 {
            let (_, body) = login(&app, slug, email, "wrong password!", &[]).await;
            assert_eq!(code(&body), "UNAUTHENTICATED", "{slug} {email}: {body}");
        }
        let (status, body) = login(&app, slug, email, "wrong password!", &[]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{slug} {email}: {body}");
        assert_eq!(code(&body), "RATE_LIMITED");
        assert!(
            body["errors"][0]["extensions"]["retryAfterSeconds"]
                .as_u64()
                .is_some_and(|s| s >= 1)
        );
    }
    // Another account of the same tenant is not held up.
    let (_, body) = login(&app, &fx.slug, "someone@tries.test", "wrong password!", &[]).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn attempts_are_limited_per_client_address_which_a_header_cannot_change() {
    let app = TestApp::spawn_with(&["--login-per-client-per-minute", "4"]).await;
    for i in 0..4 {
        // X-Forwarded-For from an untrusted peer is not believed.
        let spoof = format!("198.51.100.{i}");
        let (_, body) = login(
            &app,
            &format!("t{i}"),
            "a@b.test",
            "wrong password!",
            &[("x-forwarded-for", &spoof)],
        )
        .await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    }
    let (status, body) = login(
        &app,
        "t9",
        "z@b.test",
        "wrong password!",
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn one_sign_in_field_per_operation() {
    let app = TestApp::spawn().await;
    let guesses: String = (0..2)
        .map(|i| format!("g{i}: login(input: {{tenantSlug: \"x\", email: \"a@b.test\", password: \"guess number {i}\"}}) {{ accessToken }} "))
        .collect();
    let (_, body) = app.post(None, &format!("mutation {{ {guesses} }}"), json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["limit"], "login_fields");
    let mixed = "mutation { login(input: {tenantSlug: \"x\", email: \"a@b.test\", password: \"guess number 1\"}) { accessToken } \
                 logout(input: {refreshToken: \"rt1.x.y\"}) { ok } }";
    let (_, body) = app.post(None, mixed, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "login_fields", "{body}");
}

/// Many wrong passwords on one account at once: no statement waits long on
/// a lock (the password is hashed with no transaction open, so the row is
/// held only by the short UPDATE that counts a failure) and every attempt is
/// answered; the failures lock the account. Before, each attempt held the
/// row (SELECT … FOR UPDATE) while hashing, and the others queued behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_wait_on_no_lock() {
    let app = std::sync::Arc::new(
        TestApp::spawn_with(&[
            "--login-per-account-per-minute",
            "1000",
            "--login-per-client-per-minute",
            "1000",
        ])
        .await,
    );
    let fx = app.tenant("storm").await;
    let owner = app.owner().await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let (mut samples, mut most_waiting) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                // The longest current wait on a lock in this test's database, in ms.
                let waiting = crate::helpers::scalar_i64(
                    &owner,
                    "SELECT coalesce(max(extract(epoch FROM now() - query_start) * 1000), 0)::bigint \
                     FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
                )
                .await;
                most_waiting = most_waiting.max(waiting);
                samples += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (samples, most_waiting)
        })
    };
    let attempts = (0..24).map(|_| {
        let (app, slug) = (app.clone(), fx.slug.clone());
        async move { login(&app, &slug, "admin@storm.test", "wrong password!", &[]).await }
    });
    let answers = join_all(attempts).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (samples, most_waiting) = sampler.await.expect("sampler");
    for (_, body) in &answers {
        assert!(matches!(code(body), "UNAUTHENTICATED" | "RATE_LIMITED"), "{body}");
    }
    assert!(samples >= 3, "sampled {samples} times");
    assert!(most_waiting < 200, "a statement waited {most_waiting} ms on a lock");
    let failures = crate::helpers::scalar_i64(
        &app.owner().await,
        &format!(
            "SELECT failed_login_count::bigint FROM screenplay.users WHERE id = '{}'",
            fx.admin_id
        ),
    )
    .await;
    assert!(failures >= 5, "{failures} failures counted");
}

/// Hashing beyond its queue is refused at once (a server of its own: the
/// hashing threads are per process).
#[tokio::test]
async fn hashing_beyond_the_queue_is_refused_at_once() {
    let db = TestDb::create().await;
    let server = ServerProcess::spawn(
        &db,
        &[
            ("SCREENPLAY_PASSWORD_HASHING_THREADS", "1"),
            ("SCREENPLAY_PASSWORD_HASHING_QUEUE", "2"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let attempt = |i: usize| {
        let body = json!({ "query": LOGIN, "variables": { "input": {
            "tenantSlug": format!("nowhere-{i}"), "email": "a@b.test", "password": "wrong password!" } } });
        let request = client.post(server.url("/graphql")).json(&body);
        async move {
            let started = Instant::now();
            let response = request.send().await.expect("login");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            (status, code(&body).to_owned(), started.elapsed())
        }
    };
    let answers = join_all((0..16).map(attempt)).await;
    let refused: Vec<_> = answers.iter().filter(|(_, code, _)| code == "RATE_LIMITED").collect();
    let hashed = answers.iter().filter(|(_, code, _)| code == "UNAUTHENTICATED").count();
    assert!(!refused.is_empty(), "{answers:?}");
    assert!(hashed >= 3, "one hashing and two queued at least: {answers:?}");
    assert!(
        refused
            .iter()
            .all(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS)
    );
    let slowest_hashed = answers
        .iter()
        .filter(|(_, c, _)| c == "UNAUTHENTICATED")
        .map(|(_, _, t)| *t)
        .max();
    let slowest_refused = refused.iter().map(|(_, _, t)| *t).max().expect("refused");
    eprintln!("slowest refusal {slowest_refused:?}, slowest hashed attempt {slowest_hashed:?}");
}
