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

use crate::helpers::{
    TestApp,
    audit::{count_when, counter_sql},
    process::{ServerProcess, post_to},
    scalar_i64,
};

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
    /// `api-key` headers (Azure) and request paths with their queries.
    api_keys: Arc<Mutex<Vec<String>>>,
    uris: Arc<Mutex<Vec<String>>>,
    /// Milliseconds every answer waits (a slow provider).
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

/// 8 dimensions from the characters of a text.
fn fake_vector(text: &str) -> Vec<f32> {
    let mut v = vec![0.1f32; 8];
    for c in text.chars() {
        v[(c as usize) % 8] += 1.0;
    }
    v
}

async fn embeddings(
    State(p): State<Provider>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    p.uris.lock().expect("lock").push(uri.to_string());
    if let Some(key) = headers.get("api-key").and_then(|v| v.to_str().ok()) {
        p.api_keys.lock().expect("lock").push(key.to_owned());
    }
    let delay = p.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
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
        .route("/openai/deployments/{deployment}/embeddings", post(embeddings))
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
        flavor: screenplay_api::config::ProviderFlavor::Openai,
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

async fn provider_app(base: &str, extra: &[&str]) -> TestApp {
    let mut flags = vec![
        "--embedding-url",
        base,
        "--embedding-model",
        "fake-embed",
        "--embedding-dimensions",
        "8",
        "--embedding-api-key",
        "sk-test",
        "--embedding-max-retries",
        "2",
    ];
    flags.extend_from_slice(extra);
    TestApp::spawn_with(&flags).await
}

#[tokio::test]
async fn the_server_embeds_documents_in_the_background_and_queries_with_the_provider() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let app = provider_app(&base, &[]).await;
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
    // The call returns with the chunks stored and a job to embed them.
    assert_eq!(out["embeddingModel"], "fake-embed");
    assert_eq!(out["embeddingTokens"], 0, "nothing embedded inside the call");
    assert_eq!(out["job"]["totalChunks"], 2);
    let job = app.wait_for_job(&fx.admin_token, &out["job"]["id"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(
        (&job["readyChunks"], &job["embeddingTokens"]),
        (&json!(2), &json!(5)),
        "the provider's usage, not an estimate"
    );
    let doc = app
        .gql(
            Some(&fx.admin_token),
            "query($id: UUID!) { document(id: $id) { status embeddingModel ingestionJobId } }",
            json!({ "id": out["documents"][0]["id"] }),
        )
        .await;
    assert_eq!(
        doc["document"],
        json!({ "status": "READY", "embeddingModel": "fake-embed", "ingestionJobId": out["job"]["id"] })
    );
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
    // The ingest's tokens counted with it, the search's through the counter writer.
    let sql = counter_sql(fx.id, "embedding_tokens");
    assert_eq!(count_when(&app, &sql, |n| n >= 6).await, 6);
}

#[tokio::test]
async fn an_unavailable_provider_postpones_the_job_and_a_refusing_one_fails_its_chunks() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let app = provider_app(&base, &["--indexing-max-attempts", "2"]).await;
    let fx = app.tenant("flaky").await;
    let ws = app.workspace(&fx, "docs").await;
    // Three answers of 503 use up the first claim's retries; the second claim succeeds.
    *provider.script.lock().expect("lock") = vec![Answer::Unavailable; 3];
    let out = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([{ "sourcePath": "c", "content": "cccc cccc" }]),
        )
        .await;
    assert_eq!(out["documents"][0]["status"], "PENDING");
    let keyword = json!({ "workspaceId": ws, "query": "cccc", "mode": "KEYWORD" });
    assert!(
        app.search(&fx.admin_token, keyword.clone()).await.is_empty(),
        "not searchable before READY"
    );
    // Nor by its title (`c`, from the source path): the one part of a
    // keyword search that does not go through the search vector.
    let by_title = json!({ "workspaceId": ws, "query": "c", "mode": "KEYWORD" });
    assert!(
        app.search(&fx.admin_token, by_title.clone()).await.is_empty(),
        "not found by its title before READY"
    );
    let job = app.wait_for_job(&fx.admin_token, &out["job"]["id"]).await;
    assert_eq!(
        (&job["status"], &job["attempts"]),
        (&json!("COMPLETED"), &json!(2)),
        "{job}"
    );
    assert!(
        job["lastError"].as_str().unwrap_or_default().contains("unavailable"),
        "{job}"
    );
    assert_eq!(app.search(&fx.admin_token, keyword).await.len(), 1);
    assert_eq!(
        app.search(&fx.admin_token, by_title).await.len(),
        1,
        "found by its title once READY"
    );

    // A refusal is not retried: the chunk fails with the reason, unsearchable.
    *provider.script.lock().expect("lock") = vec![Answer::BadRequest];
    let out = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([{ "sourcePath": "d", "content": "dddd dddd" }]),
        )
        .await;
    let job = app.wait_for_job(&fx.admin_token, &out["job"]["id"]).await;
    assert_eq!(
        (&job["status"], &job["failedChunks"]),
        (&json!("FAILED"), &json!(1)),
        "{job}"
    );
    let doc = app
        .gql(
            Some(&fx.admin_token),
            "query($id: UUID!) { document(id: $id) { status statusReason } }",
            json!({ "id": out["documents"][0]["id"] }),
        )
        .await;
    assert_eq!(doc["document"]["status"], "FAILED");
    assert!(
        doc["document"]["statusReason"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown model"),
        "{doc}"
    );
    let keyword = json!({ "workspaceId": ws, "query": "dddd", "mode": "KEYWORD" });
    assert!(app.search(&fx.admin_token, keyword.clone()).await.is_empty());

    // Ingesting the same text again embeds it again (a failed chunk is not "already there").
    let again = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([{ "sourcePath": "d", "content": "dddd dddd" }]),
        )
        .await;
    assert_eq!((&again["added"], &again["skipped"]), (&json!(1), &json!(0)), "{again}");
    let job = app.wait_for_job(&fx.admin_token, &again["job"]["id"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(app.search(&fx.admin_token, keyword).await.len(), 1);
}

#[tokio::test]
async fn a_server_killed_mid_job_loses_nothing_and_the_next_one_finishes_it() {
    let provider = Provider::default();
    provider.delay_ms.store(60, Ordering::SeqCst);
    let base = start(provider.clone()).await;
    // The in-process server embeds with the built-in model: it never claims
    // the processes' jobs, which are of the provider's model.
    let app = TestApp::spawn().await;
    let fx = app.tenant("crash").await;
    let ws = app.workspace(&fx, "docs").await;
    let env = [
        ("SCREENPLAY_EMBEDDING_URL", base.as_str()),
        ("SCREENPLAY_EMBEDDING_MODEL", "fake-embed"),
        ("SCREENPLAY_EMBEDDING_DIMENSIONS", "8"),
        ("SCREENPLAY_EMBEDDING_BATCH_SIZE", "8"),
        ("SCREENPLAY_INDEXING_LEASE", "1s"),
        ("RUST_LOG", "warn"),
    ];
    let mut first = ServerProcess::spawn_with_args(&app.db, &["--no-migrate"], &env).await;
    let paragraphs: Vec<String> = (0..150)
        .map(|i| format!("Paragraph {i} of the long night: the detective counts {i} raindrops on the glass."))
        .collect();
    let input = json!({ "input": { "workspaceId": ws, "chunking": { "maxChars": 100, "overlap": 0 },
        "documents": [{ "sourcePath": "night.txt", "content": paragraphs.join("\n\n") }] } });
    let out = post_to(first.addr, &fx.admin_token, crate::helpers::docs::INGEST, input).await;
    let job_id = out["data"]["ingestDocuments"]["job"]["id"].clone();
    assert_eq!(out["data"]["ingestDocuments"]["job"]["totalChunks"], 150, "{out:#}");

    // Killed once the first batch is stored, the rest still to do.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ready_before = loop {
        let job = post_to(
            first.addr,
            &fx.admin_token,
            crate::helpers::docs::JOB,
            json!({ "id": job_id }),
        )
        .await;
        let ready = job["data"]["ingestionJob"]["readyChunks"].as_i64().unwrap_or_default();
        if ready > 0 {
            break ready;
        }
        assert!(std::time::Instant::now() < deadline, "no progress: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.child.start_kill().expect("SIGKILL");
    first.wait().await;
    assert!(ready_before < 150, "the job finished before the kill");

    let second = ServerProcess::spawn_with_args(&app.db, &["--no-migrate"], &env).await;
    let job = app.wait_for_job(&fx.admin_token, &job_id).await;
    assert_eq!(
        (&job["status"], &job["readyChunks"]),
        (&json!("COMPLETED"), &json!(150)),
        "{job}"
    );
    assert!(job["attempts"].as_i64().unwrap_or_default() >= 2, "{job}");
    let owner = app.owner().await;
    let rows = format!("FROM screenplay.code_documents WHERE workspace_id = '{ws}'");
    for what in [
        "count(*)",
        "count(DISTINCT content_hash)",
        "count(embedding) FILTER (WHERE status = 'READY')",
    ] {
        assert_eq!(
            scalar_i64(&owner, &format!("SELECT {what} {rows}")).await,
            150,
            "{what}"
        );
    }
    // Every paragraph is found, once.
    for i in [0, 77, 149] {
        let hits = app
            .search(
                &fx.admin_token,
                json!({ "workspaceId": ws, "query": format!("Paragraph {i} of"), "mode": "KEYWORD", "limit": 100 }),
            )
            .await;
        let exact = hits
            .iter()
            .filter(|h| {
                h["chunk"]["content"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(&format!("Paragraph {i} ")))
            })
            .count();
        assert_eq!(exact, 1, "paragraph {i}");
    }
    second.stop().await;
}

#[tokio::test]
async fn a_stopping_server_hands_its_job_back_and_another_finishes_it() {
    let provider = Provider::default();
    provider.delay_ms.store(300, Ordering::SeqCst);
    let base = start(provider.clone()).await;
    let flags = [
        "--embedding-url",
        base.as_str(),
        "--embedding-model",
        "fake-embed",
        "--embedding-dimensions",
        "8",
        "--embedding-batch-size",
        "8",
    ];
    let mut app = TestApp::spawn_with(&flags).await;
    let fx = app.tenant("handback").await;
    let ws = app.workspace(&fx, "docs").await;
    let documents: Vec<Value> = (0..40)
        .map(|i| json!({ "sourcePath": format!("n{i}.txt"), "content": format!("note {i} in the rain") }))
        .collect();
    let out = app.ingest(&fx.admin_token, ws, json!(documents)).await;
    let job_id = out["job"]["id"].clone();
    // Stop while the first round waits for the provider.
    while provider.uris.lock().expect("lock").is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping waits for no provider call"
    );
    let owner = app.owner().await;
    let job = format!(
        "FROM screenplay.ingestion_jobs WHERE id = '{}'",
        job_id.as_str().unwrap_or_default()
    );
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) {job} AND status = 'PENDING' AND attempts = 0 AND lease_until IS NULL")
        )
        .await,
        1,
        "handed back, the claim not counted"
    );
    let rows = format!("FROM screenplay.code_documents WHERE workspace_id = '{ws}'");
    assert_eq!(
        scalar_i64(&owner, &format!("SELECT count(*) {rows} AND status = 'EMBEDDING'")).await,
        0
    );

    provider.delay_ms.store(0, Ordering::SeqCst);
    let next = TestApp::spawn_on(app.db.clone(), &flags).await;
    let job = next.wait_for_job(&fx.admin_token, &job_id).await;
    assert_eq!(
        (&job["status"], &job["readyChunks"]),
        (&json!("COMPLETED"), &json!(40)),
        "{job}"
    );
}

#[tokio::test]
async fn the_ingest_command_embeds_its_own_jobs_with_the_provider() {
    let provider = Provider::default();
    provider.delay_ms.store(20, Ordering::SeqCst);
    let base = start(provider.clone()).await;
    // The in-process server embeds with the built-in model: the command's
    // jobs (the provider's model) are left to the command itself.
    let app = TestApp::spawn().await;
    let fx = app.tenant("cli-jobs").await;
    let ws = app.workspace(&fx, "docs").await;
    let dir = std::env::temp_dir().join(format!("screenplay-cli-jobs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (file, text) in [
        ("a.md", "# A\n\nalpha beta"),
        ("b.txt", "gamma delta epsilon"),
        ("c.txt", "zeta"),
    ] {
        std::fs::write(dir.join(file), text).expect("write");
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["ingest", "--workspace", &ws.to_string()])
        .arg(&dir)
        .env("DATABASE_URL", &app.db.app_url)
        .env("SCREENPLAY_MIGRATION_DATABASE_URL", &app.db.owner_url)
        .env("SCREENPLAY_EMBEDDING_URL", &base)
        .env("SCREENPLAY_EMBEDDING_MODEL", "fake-embed")
        .env("SCREENPLAY_EMBEDDING_DIMENSIONS", "8")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run screenplay ingest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // The provider counts words: "# A alpha beta" 4, 3, 1.
    assert!(
        stdout.contains("3 chunk(s) added, 0 skipped (already present), 8 embedding token(s)"),
        "{stdout}"
    );
    let owner = app.owner().await;
    let rows = format!(
        "SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' AND status = 'READY' \
         AND embedding_model = 'fake-embed' AND embedding IS NOT NULL"
    );
    assert_eq!(scalar_i64(&owner, &rows).await, 3);
    let jobs = format!(
        "SELECT count(*) FROM screenplay.ingestion_jobs WHERE workspace_id = '{ws}' AND status = 'COMPLETED' \
         AND ready_chunks = 3 AND embedding_tokens = 8"
    );
    assert_eq!(scalar_i64(&owner, &jobs).await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ingestion_progress_streams_a_job_to_its_end_and_hides_it_from_other_tenants() {
    let provider = Provider::default();
    provider.delay_ms.store(40, Ordering::SeqCst);
    let base = start(provider.clone()).await;
    let app = provider_app(&base, &["--embedding-batch-size", "4"]).await;
    let fx = app.tenant("progress").await;
    let other = app.tenant("progress-other").await;
    let ws = app.workspace(&fx, "docs").await;
    let documents: Vec<Value> = (0..80)
        .map(|i| json!({ "sourcePath": format!("n{i}.txt"), "content": format!("note {i} about the rain") }))
        .collect();
    let out = app.ingest(&fx.admin_token, ws, json!(documents)).await;
    let job_id = out["job"]["id"].clone();
    const PROGRESS: &str =
        "subscription($id: UUID!) { ingestionProgress(jobId: $id) { status readyChunks totalChunks } }";

    let mut foreign = crate::helpers::ws::WsClient::connect(app.addr, &other.admin_token).await;
    foreign.subscribe("x", PROGRESS, json!({ "id": job_id })).await;
    let refused = foreign.next_payload().await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");

    let mut ws_client = crate::helpers::ws::WsClient::connect(app.addr, &fx.admin_token).await;
    ws_client.subscribe("1", PROGRESS, json!({ "id": job_id })).await;
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let frame = ws_client.next(Duration::from_secs(30)).await.expect("a frame");
        if frame["type"] == "complete" {
            break;
        }
        assert_eq!(frame["type"], "next", "{frame}");
        seen.push(frame["payload"]["data"]["ingestionProgress"].clone());
    }
    let last = seen.last().expect("progress");
    assert_eq!(
        (&last["status"], &last["readyChunks"]),
        (&json!("COMPLETED"), &json!(80)),
        "{seen:?}"
    );
    let ready: Vec<i64> = seen
        .iter()
        .map(|j| j["readyChunks"].as_i64().unwrap_or_default())
        .collect();
    assert!(
        ready.windows(2).all(|w| w[0] <= w[1]),
        "progress goes forward: {ready:?}"
    );
    assert!(seen.len() >= 3, "several steps seen: {seen:?}");
}

#[tokio::test]
async fn azure_openai_gets_its_deployment_url_api_version_and_key_header() {
    use clap::Parser;
    use screenplay_api::config::{EmbeddingArgs, EmbeddingConfig};
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        e: EmbeddingArgs,
    }
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let deployment = format!("{}/openai/deployments/emb-small", base.trim_end_matches("/v1"));
    let flags = |url: &str| {
        Flags::try_parse_from([
            "x",
            "--embedding-provider",
            "azure",
            "--embedding-url",
            url,
            "--embedding-model",
            "text-embedding-3-small",
            "--embedding-api-key",
            "az-key",
            "--embedding-dimensions",
            "8",
            "--embedding-max-retries",
            "2",
        ])
        .expect("flags")
        .e
        .config()
    };
    let refused = flags(&base).map(|_| ()).expect_err("not a deployment URL");
    assert!(refused.to_string().contains("Azure deployment URL"), "{refused}");
    let EmbeddingConfig::Http(config) = flags(&deployment).expect("azure config") else {
        panic!("not an HTTP provider");
    };
    // A 429 first: Azure's answers are retried like OpenAI's.
    *provider.script.lock().expect("lock") = vec![Answer::TooMany];
    let embedder = HttpEmbedder::new(config).expect("embedder");
    let out = embedder
        .embed(&["the ferry leaves".to_owned(), "渡船".to_owned()])
        .await
        .expect("embed");
    assert_eq!(out.vectors.len(), 2);
    assert_eq!(embedder.model(), "text-embedding-3-small");
    assert_eq!(
        *provider.uris.lock().expect("lock"),
        ["/openai/deployments/emb-small/embeddings?api-version=2024-10-21"; 2]
    );
    assert_eq!(*provider.api_keys.lock().expect("lock"), ["az-key"; 2]);
    assert!(
        provider.auth.lock().expect("lock").is_empty(),
        "no bearer token for Azure"
    );
    let body = provider.seen.lock().expect("lock")[1].clone();
    assert!(body.get("model").is_none(), "the deployment names the model: {body}");
    assert_eq!(body["dimensions"], 8);
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
