//! `searchDocuments(input: {rerank: true})` against a real local HTTP
//! server speaking the `/rerank` API, including 429, 5xx, refusals and
//! answers slower than the timeout.

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
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, scalar_i64};

#[derive(Clone, Copy, Debug)]
enum Answer {
    TooMany,
    Unavailable,
    BadRequest,
    Slow,
}

#[derive(Clone, Default)]
struct RerankServer {
    script: Arc<Mutex<Vec<Answer>>>,
    requests: Arc<AtomicUsize>,
}

/// Relevance: how often a document says "lighthouse".
async fn rerank(State(s): State<RerankServer>, Json(body): Json<Value>) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let next = {
        let mut script = s.script.lock().expect("lock");
        (!script.is_empty()).then(|| script.remove(0))
    };
    match next {
        Some(Answer::TooMany) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "slow down").into_response(),
        Some(Answer::Unavailable) => (StatusCode::BAD_GATEWAY, "upstream down").into_response(),
        Some(Answer::BadRequest) => (StatusCode::BAD_REQUEST, "model not found").into_response(),
        Some(Answer::Slow) => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            (StatusCode::OK, "late").into_response()
        }
        None => {
            let docs: Vec<String> = body["documents"]
                .as_array()
                .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let results: Vec<Value> = docs
                .iter()
                .enumerate()
                .map(|(i, d)| json!({ "index": i, "relevance_score": d.matches("lighthouse").count() as f64 / 10.0 }))
                .collect();
            Json(json!({ "model": body["model"], "results": results, "usage": { "total_tokens": 7 } })).into_response()
        }
    }
}

async fn start(server: RerankServer) -> String {
    let app = Router::new().route("/v1/rerank", post(rerank)).with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

fn sources(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .map(|h| h["document"]["sourcePath"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const SEARCH: &str = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { \
    score rerankScore keywordRank document { sourcePath } } }";

#[tokio::test]
async fn reranking_reorders_candidates_retries_and_counts_as_an_llm_call() {
    let server = RerankServer::default();
    let base = start(server.clone()).await;
    let app = TestApp::spawn_with(&[
        "--rerank-url",
        &base,
        "--rerank-model",
        "fake-rerank",
        "--rerank-timeout",
        "300ms",
        "--rerank-max-retries",
        "2",
    ])
    .await;
    let fx = app.tenant("rerank").await;
    let ws = app.workspace(&fx, "refs").await;
    let docs = json!([
        { "sourcePath": "a.txt", "content": "Rain rain rain on the harbour, rain on the roofs." },
        { "sourcePath": "b.txt", "content": "Rain over the sea and the old lighthouse lighthouse lighthouse." },
        { "sourcePath": "c.txt", "content": "A little rain, and the lighthouse keeper sleeps." },
        { "sourcePath": "d.txt", "content": "Rain rain at the station." },
    ]);
    app.ingest(&fx.admin_token, ws, docs).await;
    let input = |rerank: bool| {
        json!({ "input": { "workspaceId": ws, "query": "rain", "mode": "KEYWORD",
        "limit": 3, "rerank": rerank } })
    };

    let plain = app.gql(Some(&fx.admin_token), SEARCH, input(false)).await["searchDocuments"].clone();
    let plain = plain.as_array().cloned().unwrap_or_default();
    assert_eq!(sources(&plain), ["d.txt", "a.txt", "c.txt"], "{plain:?}");
    assert!(plain.iter().all(|h| h["rerankScore"].is_null()));

    // 429 then 502: retried; then the reranker's order, over all 4 candidates
    // (b.txt was not even in the top 3; ties keep the keyword order).
    *server.script.lock().expect("lock") = vec![Answer::TooMany, Answer::Unavailable];
    let hits = app.gql(Some(&fx.admin_token), SEARCH, input(true)).await["searchDocuments"].clone();
    let hits = hits.as_array().cloned().unwrap_or_default();
    assert_eq!(sources(&hits), ["b.txt", "c.txt", "d.txt"]);
    assert_eq!(hits[0]["rerankScore"], 0.3);
    assert_eq!(hits[0]["score"], hits[0]["rerankScore"]);
    assert!(
        hits[0]["keywordRank"].as_i64().is_some(),
        "the channel's own rank stays: {hits:?}"
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);

    // A refusal is not retried; answers slower than the timeout are retried, then given up.
    for (script, requests) in [(vec![Answer::BadRequest], 1), (vec![Answer::Slow; 3], 3)] {
        let before = server.requests.load(Ordering::SeqCst);
        *server.script.lock().expect("lock") = script;
        let started = std::time::Instant::now();
        let code = app.gql_err(Some(&fx.admin_token), SEARCH, input(true)).await;
        assert_eq!(code, "INTERNAL");
        assert_eq!(server.requests.load(Ordering::SeqCst) - before, requests);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by the timeout and retries"
        );
    }

    // The successful rerank is one LLM call of the tenant, with its tokens.
    let owner = app.owner().await;
    let calls = format!(
        "SELECT count(*) FROM screenplay.llm_call_logs WHERE tenant_id = '{}' AND provider = 'rerank' \
         AND model = 'fake-rerank' AND prompt_tokens = 7 AND latency_ms IS NOT NULL",
        fx.id
    );
    assert_eq!(scalar_i64(&owner, &calls).await, 1);
    let tokens = format!(
        "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage WHERE tenant_id = '{}' \
         AND metric = 'llm_tokens'",
        fx.id
    );
    assert_eq!(scalar_i64(&owner, &tokens).await, 7);
}

#[tokio::test]
async fn a_server_without_a_reranker_refuses_rerank() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("no-rerank").await;
    let ws = app.workspace(&fx, "refs").await;
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            SEARCH,
            json!({ "input": { "workspaceId": ws, "query": "rain", "mode": "KEYWORD", "rerank": true } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "rerank", "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("SCREENPLAY_RERANK_URL"), "{message}");
}
