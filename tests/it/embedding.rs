//! The OpenAI-compatible embedding provider against a real HTTP server
//! started here that speaks `/v1/embeddings`, including 429 and 5xx answers.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use screenplay_api::{
    config::HttpEmbeddingConfig,
    embedding::{Embedder, EmbeddingError, HttpEmbedder},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, scalar_i64};

/// What the fake provider does with each request, in order; then `Ok`.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    TooMany,
    Unavailable,
    BadRequest,
    Slow,
}

#[derive(Clone, Default)]
struct Provider {
    script: Arc<Mutex<Vec<Answer>>>,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Value>>>,
    auth: Arc<Mutex<Vec<String>>>,
}

/// 8 dimensions from the characters of a text.
fn fake_vector(text: &str) -> Vec<f32> {
    let mut v = vec![0.1f32; 8];
    for c in text.chars() {
        v[(c as usize) % 8] += 1.0;
    }
    v
}

async fn embeddings(State(p): State<Provider>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    p.requests.fetch_add(1, Ordering::SeqCst);
    p.seen.lock().expect("lock").push(body.clone());
    if let Some(a) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        p.auth.lock().expect("lock").push(a.to_owned());
    }
    let answer = {
        let mut script = p.script.lock().expect("lock");
        if script.is_empty() {
            Answer::Ok
        } else {
            script.remove(0)
        }
    };
    match answer {
        Answer::TooMany => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            Json(json!({ "error": { "message": "rate limited" } })),
        )
            .into_response(),
        Answer::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response(),
        Answer::BadRequest => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "message": "unknown model" } })),
        )
            .into_response(),
        Answer::Slow => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            (StatusCode::OK, "late").into_response()
        }
        Answer::Ok => {
            let inputs: Vec<String> = body["input"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            // Out of order on purpose: clients must sort by index.
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .rev()
                .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": fake_vector(t) }))
                .collect();
            let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
            Json(json!({ "object": "list", "data": data, "model": body["model"],
                         "usage": { "prompt_tokens": tokens, "total_tokens": tokens } }))
            .into_response()
        }
    }
}

async fn start(provider: Provider) -> String {
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(provider);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

fn config(base: &str, batch_size: usize, timeout: Duration, max_retries: u32) -> HttpEmbeddingConfig {
    HttpEmbeddingConfig {
        endpoint: format!("{base}/embeddings").parse().expect("url"),
        model: "fake-embed".into(),
        api_key: Some(screenplay_api::config::Secret::new("sk-test".into())),
        dimensions: Some(8),
        batch_size,
        timeout,
        max_retries,
    }
}

#[tokio::test]
async fn batches_retries_and_reports_usage() {
    let provider = Provider::default();
    *provider.script.lock().expect("lock") = vec![Answer::TooMany, Answer::Unavailable];
    let base = start(provider.clone()).await;
    let embedder = HttpEmbedder::new(config(&base, 2, Duration::from_secs(5), 3)).expect("embedder");
    let texts: Vec<String> = ["one two", "three", "four five six", "seven", "eight"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = embedder.embed(&texts).await.expect("embeddings");
    // 3 batches of at most 2, the first tried three times (429, 503, ok).
    assert_eq!(provider.requests.load(Ordering::SeqCst), 5);
    assert_eq!(out.vectors.len(), 5);
    assert_eq!(out.tokens, 8);
    for (t, v) in texts.iter().zip(&out.vectors) {
        assert_eq!(v.len(), 1536, "padded to the column's size");
        assert_eq!(&v[..8], fake_vector(t).as_slice(), "in input order");
        assert!(v[8..].iter().all(|x| *x == 0.0));
    }
    let seen = provider.seen.lock().expect("lock").clone();
    assert_eq!(seen[0]["model"], "fake-embed");
    assert_eq!(seen[0]["dimensions"], 8);
    assert_eq!(seen[0]["encoding_format"], "float");
    assert!(seen.iter().all(|b| b["input"].as_array().is_some_and(|a| a.len() <= 2)));
    assert!(
        provider
            .auth
            .lock()
            .expect("lock")
            .iter()
            .all(|a| a == "Bearer sk-test")
    );
}

#[tokio::test]
async fn gives_up_after_its_retries_and_does_not_retry_refusals() {
    let provider = Provider::default();
    *provider.script.lock().expect("lock") = vec![Answer::Unavailable; 10];
    let base = start(provider.clone()).await;
    let embedder = HttpEmbedder::new(config(&base, 8, Duration::from_secs(5), 2)).expect("embedder");
    let err = embedder.embed(&["x".to_owned()]).await.expect_err("fails");
    assert!(
        matches!(err, EmbeddingError::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(provider.requests.load(Ordering::SeqCst), 3);

    let provider = Provider::default();
    *provider.script.lock().expect("lock") = vec![Answer::BadRequest];
    let base = start(provider.clone()).await;
    let embedder = HttpEmbedder::new(config(&base, 8, Duration::from_secs(5), 4)).expect("embedder");
    let err = embedder.embed(&["x".to_owned()]).await.expect_err("fails");
    assert!(matches!(err, EmbeddingError::Refused { status: 400, .. }), "{err:?}");
    assert_eq!(provider.requests.load(Ordering::SeqCst), 1);

    // A provider slower than the timeout is retried, then given up on.
    let provider = Provider::default();
    *provider.script.lock().expect("lock") = vec![Answer::Slow, Answer::Slow];
    let base = start(provider.clone()).await;
    let embedder = HttpEmbedder::new(config(&base, 8, Duration::from_millis(300), 1)).expect("embedder");
    let started = std::time::Instant::now();
    let err = embedder.embed(&["x".to_owned()]).await.expect_err("fails");
    assert!(
        matches!(err, EmbeddingError::Unavailable { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_server_embeds_documents_and_queries_with_the_configured_provider() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let app = TestApp::spawn_with(&[
        "--embedding-url",
        &base,
        "--embedding-model",
        "fake-embed",
        "--embedding-dimensions",
        "8",
        "--embedding-api-key",
        "sk-test",
        "--embedding-max-retries",
        "2",
    ])
    .await;
    let fx = app.tenant("http").await;
    let ws = app.workspace(&fx, "docs").await;
    *provider.script.lock().expect("lock") = vec![Answer::TooMany];
    let out = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([
                { "sourcePath": "a", "content": "aaaa aaaa" },
                { "sourcePath": "b", "content": "bbbb bbbb bbbb" },
            ]),
        )
        .await;
    assert_eq!(out["embeddingModel"], "fake-embed");
    assert_eq!(out["embeddingTokens"], 5, "the provider's usage, not an estimate");
    assert_eq!(out["documents"][0]["embeddingModel"], "fake-embed");
    // A client embedding may have the provider's 8 dimensions.
    let mut eight = vec![0.0; 8];
    eight[(b'b' as usize) % 8] = 1.0;
    let hits = app
        .search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "embedding": eight, "mode": "VECTOR", "limit": 1 }),
        )
        .await;
    assert_eq!(hits[0]["document"]["sourcePath"], "b");
    // The query text is embedded by the provider.
    let before = provider.requests.load(Ordering::SeqCst);
    let hits = app
        .search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "query": "aaaa", "mode": "VECTOR", "limit": 1 }),
        )
        .await;
    assert_eq!(hits[0]["document"]["sourcePath"], "a");
    assert_eq!(provider.requests.load(Ordering::SeqCst), before + 1);
    let owner = app.owner().await;
    let tokens = scalar_i64(
        &owner,
        &format!(
            "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage \
             WHERE tenant_id = '{}' AND metric = 'embedding_tokens'",
            fx.id
        ),
    )
    .await;
    assert_eq!(tokens, 6);

    // A provider that keeps failing fails the ingest, opaquely, writing nothing.
    *provider.script.lock().expect("lock") = vec![Answer::Unavailable; 10];
    let code = app
        .gql_err(
            Some(&fx.admin_token),
            crate::helpers::docs::INGEST,
            json!({ "input": { "workspaceId": ws, "documents": [{ "sourcePath": "c", "content": "cccc" }] } }),
        )
        .await;
    assert_eq!(code, "INTERNAL");
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.code_documents").await,
        2
    );
}

#[test]
fn provider_settings_are_validated() {
    use clap::Parser;
    use screenplay_api::config::{EmbeddingArgs, EmbeddingConfig};
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        e: EmbeddingArgs,
    }
    let parse = |args: &[&str]| {
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        Flags::try_parse_from(all).expect("flags").e.config()
    };
    assert_eq!(parse(&[]).expect("lexical"), EmbeddingConfig::Lexical);
    let http = parse(&[
        "--embedding-url",
        "http://127.0.0.1:11434/v1/",
        "--embedding-model",
        "m",
    ])
    .expect("http");
    match http {
        EmbeddingConfig::Http(h) => assert_eq!(h.endpoint.as_str(), "http://127.0.0.1:11434/v1/embeddings"),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["--embedding-url", "http://x/v1"]).is_err(), "needs a model");
    assert!(parse(&["--embedding-model", "m"]).is_err(), "needs a URL");
    assert!(parse(&["--embedding-url", "ftp://x", "--embedding-model", "m"]).is_err());
    assert!(
        parse(&[
            "--embedding-url",
            "http://x/v1",
            "--embedding-model",
            "m",
            "--embedding-dimensions",
            "3072"
        ])
        .is_err()
    );
    assert!(
        parse(&[
            "--embedding-url",
            "http://x/v1",
            "--embedding-model",
            "m",
            "--embedding-batch-size",
            "0"
        ])
        .is_err()
    );
}
