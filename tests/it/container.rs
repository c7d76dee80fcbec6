//! What the container image and compose rely on: `screenplay healthcheck`,
//! and empty environment values counting as unset.

use crate::helpers::{TestDb, process::ServerProcess};

fn healthcheck(bind: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["healthcheck", "--bind", bind, "--timeout", "2s"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("screenplay healthcheck")
}

#[tokio::test]
async fn healthcheck_follows_readiness_and_empty_variables_are_unset() {
    let db = TestDb::create().await;
    // compose passes `${SCREENPLAY_METRICS_TOKEN:-}` as ""; a number left
    // empty must not stop the server either.
    let server = ServerProcess::spawn_with_args(
        &db,
        &["--no-migrate"],
        &[
            ("SCREENPLAY_METRICS_TOKEN", ""),
            ("SCREENPLAY_DB_POOL_SIZE", ""),
            ("SCREENPLAY_CORS_ORIGINS", ""),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let bind = format!("0.0.0.0:{}", server.addr.port());
    let ready = healthcheck(&bind);
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stderr));
    // An empty metrics token is no token: /metrics is open.
    let metrics = reqwest::get(server.url("/metrics")).await.expect("metrics");
    assert_eq!(metrics.status(), reqwest::StatusCode::OK);
    server.stop().await;
    let gone = healthcheck(&bind);
    assert_eq!(gone.status.code(), Some(1), "{}", String::from_utf8_lossy(&gone.stdout));
}

/// A placeholder or guessable signing secret stops the server at start,
/// saying how to make one; the example environment file has no value.
#[tokio::test]
async fn guessable_signing_secrets_stop_the_server() {
    let example = std::fs::read_to_string(crate::helpers::checkout().join("docker/env.example")).expect("env.example");
    let line = example
        .lines()
        .find(|l| l.starts_with("SCREENPLAY_JWT_SECRET="))
        .expect("the example names the secret");
    assert_eq!(
        line, "SCREENPLAY_JWT_SECRET=",
        "the example file carries no usable secret"
    );
    for secret in [
        "change-me-at-least-32-bytes-of-randomness",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abababababababababababababababababababab",
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("SCREENPLAY_JWT_SECRET", secret)
            .env("RUST_LOG", "warn")
            .output()
            .expect("screenplay serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{secret}: started");
        assert!(stderr.contains("SCREENPLAY_JWT_SECRET"), "{secret}: {stderr}");
        assert!(stderr.contains("openssl rand"), "{secret}: {stderr}");
    }
}
