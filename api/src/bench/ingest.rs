//! `screenplay bench ingest`: background indexing against a slow embedding
//! provider (a local OpenAI-compatible server answering after a fixed
//! delay), and what a large job does to the API's other requests. A tool,
//! not a test: its results are committed in BENCHMARKS.md.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::State, routing};
use serde_json::{Value, json};
use uuid::Uuid;

use super::middleware::{Sample, bench_tenant, bench_token, load, median};
use crate::{
    app::{Application, Running, database as setup},
    config::{Config, DatabaseArgs, ServeArgs},
};

/// How much to ingest and how slow the provider is.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestBenchArgs {
    /// Documents per round (each splits into about three chunks).
    #[arg(long, default_value_t = 1000)]
    pub documents: usize,
    /// Milliseconds the provider takes to answer each request.
    #[arg(long, default_value_t = 100)]
    pub provider_delay_ms: u64,
    /// Texts per provider request (SCREENPLAY_EMBEDDING_BATCH_SIZE).
    #[arg(long, default_value_t = 64)]
    pub provider_batch: usize,
    /// Indexing workers of the server (SCREENPLAY_INDEXING_WORKERS).
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
    /// Rounds; each measures the API idle, then during a job.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// One round's numbers.
struct Round {
    stored_secs: f64,
    indexed_secs: f64,
    chunks: i64,
    idle: Sample,
    busy: Sample,
}

pub async fn run(args: IngestBenchArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let calls = Arc::new(AtomicU64::new(0));
    let provider = start_provider(args.provider_delay_ms, calls.clone()).await?;
    let (database, db) = setup::open_for_command(&db_args).await?;
    let (admin, tenant, _) = bench_tenant(&db, 1).await?;
    let (secret, token) = bench_token(&database, admin, tenant)?;
    let (url, server) = spawn_server(&provider, &args, secret.expose(), &db_args).await?;
    let client = reqwest::Client::new();
    // Reads go to a workspace of their own, filled once: the same query on
    // the same rows, idle and while another workspace's job runs.
    let reads = create_workspace(&client, &url, &token, usize::MAX).await?;
    let jobs = store(&client, &url, &token, reads, usize::MAX, 300).await?;
    wait_for(&client, &url, &token, &jobs).await?;
    let read = read_body(reads);
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ws = create_workspace(&client, &url, &token, round).await?;
        let idle = load(&url, &token, std::slice::from_ref(&read), 1, Duration::from_secs(3)).await;
        let started = Instant::now();
        let jobs = store(&client, &url, &token, ws, round, args.documents).await?;
        let stored_secs = started.elapsed().as_secs_f64();
        let busy_load = load(&url, &token, std::slice::from_ref(&read), 1, Duration::from_secs(3));
        let (busy, finished) = tokio::join!(busy_load, wait_for(&client, &url, &token, &jobs));
        let chunks = finished?;
        rounds.push(Round {
            stored_secs,
            indexed_secs: started.elapsed().as_secs_f64(),
            chunks,
            idle,
            busy,
        });
        eprintln!("round {} done", round + 1);
    }
    report(&args, &rounds, calls.load(Ordering::SeqCst));
    server.stop().await?;
    Ok(())
}

/// An OpenAI-compatible `/v1/embeddings` that answers after `delay_ms`.
async fn start_provider(delay_ms: u64, calls: Arc<AtomicU64>) -> anyhow::Result<String> {
    async fn embeddings(State((delay, calls)): State<(u64, Arc<AtomicU64>)>, Json(body): Json<Value>) -> Json<Value> {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        calls.fetch_add(1, Ordering::SeqCst);
        let n = body["input"].as_array().map_or(0, Vec::len);
        let data: Vec<Value> = (0..n)
            .map(|i| json!({ "index": i, "embedding": [1.0, (i % 7) as f32, 0.5, 0.25, 0.1, 0.2, 0.3, 0.4] }))
            .collect();
        Json(json!({ "data": data, "usage": { "prompt_tokens": n * 50, "total_tokens": n * 50 } }))
    }
    let app = Router::new()
        .route("/v1/embeddings", routing::post(embeddings))
        .with_state((delay_ms, calls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

async fn spawn_server(
    provider: &str,
    args: &IngestBenchArgs,
    secret: &str,
    db_args: &DatabaseArgs,
) -> anyhow::Result<(String, Running)> {
    let batch = args.provider_batch.to_string();
    let workers = args.workers.to_string();
    let flags = [
        "--bind",
        "127.0.0.1:0",
        "--jwt-secret",
        secret,
        "--no-migrate",
        "--embedding-url",
        provider,
        "--embedding-model",
        "bench-embed",
        "--embedding-dimensions",
        "8",
        "--embedding-batch-size",
        &batch,
        "--indexing-workers",
        &workers,
    ];
    let config = Config::from_args(ServeArgs::parse_flags(&flags)?, db_args.clone())?;
    let server = Application::build(config).await?.spawn();
    Ok((format!("http://{}/graphql", server.addr), server))
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Value) -> anyhow::Result<Value> {
    let answer: Value = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    if let Some(errors) = answer.get("errors") {
        anyhow::bail!("GraphQL errors: {errors}");
    }
    Ok(answer["data"].clone())
}

async fn create_workspace(client: &reqwest::Client, url: &str, token: &str, round: usize) -> anyhow::Result<Uuid> {
    let data = post(
        client,
        url,
        token,
        json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                "variables": { "i": { "name": format!("Ingest bench {round} {}", Uuid::new_v4().simple()) } } }),
    )
    .await?;
    Ok(serde_json::from_value(
        data["createWorkspace"]["workspace"]["id"].clone(),
    )?)
}

/// What a writer does meanwhile: a page of a workspace's chunks and a keyword search in it.
fn read_body(ws: Uuid) -> Value {
    json!({
        "query": "query($ws: UUID!) { documents(workspaceId: $ws, first: 10) { edges { node { id status } } } \
                  searchDocuments(input: { workspaceId: $ws, query: \"harbour lantern\", mode: KEYWORD, limit: 5 }) \
                  { score } }",
        "variables": { "ws": ws }
    })
}

/// Stores `documents` in calls of 100; returns the jobs.
async fn store(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    ws: Uuid,
    round: usize,
    documents: usize,
) -> anyhow::Result<Vec<Value>> {
    let mut jobs = Vec::new();
    for start in (0..documents).step_by(100) {
        let docs: Vec<Value> = (start..(start + 100).min(documents))
            .map(|i| json!({ "sourcePath": format!("bench/{round}/{i}.txt"), "content": document(round, i) }))
            .collect();
        let data = post(
            client,
            url,
            token,
            json!({ "query": "mutation($i: IngestDocumentsInput!) { ingestDocuments(input: $i) { job { id } } }",
                    "variables": { "i": { "workspaceId": ws, "documents": docs,
                                          "chunking": { "maxChars": 400, "overlap": 0 } } } }),
        )
        .await?;
        jobs.push(data["ingestDocuments"]["job"]["id"].clone());
    }
    Ok(jobs)
}

/// About 1,100 characters in three paragraphs, different for every document.
fn document(round: usize, i: usize) -> String {
    (0..3)
        .map(|p| {
            format!(
                "Round {round}, note {i}, part {p}: the harbour lantern swings while the detective counts the ships \
                 that leave before dawn; each one carries a name she writes down, number {i}-{p}, and the rain keeps \
                 falling on the old customs house where the case began, years before anyone remembered it.",
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Polls the jobs until all are finished; returns their chunks.
async fn wait_for(client: &reqwest::Client, url: &str, token: &str, jobs: &[Value]) -> anyhow::Result<i64> {
    let query = "query($id: UUID!) { ingestionJob(id: $id) { status totalChunks } }";
    let mut chunks = 0;
    for job in jobs {
        loop {
            let data = post(
                client,
                url,
                token,
                json!({ "query": query, "variables": { "id": job } }),
            )
            .await?;
            let job = &data["ingestionJob"];
            match job["status"].as_str() {
                Some("COMPLETED") => {
                    chunks += job["totalChunks"].as_i64().unwrap_or_default();
                    break;
                }
                Some("FAILED") => anyhow::bail!("an ingestion job failed: {job}"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(chunks)
}

fn report(args: &IngestBenchArgs, rounds: &[Round], calls: u64) {
    let docs = args.documents as f64;
    println!(
        "{} documents per round in calls of 100 (one job each), provider answering after {} ms, {} texts per \
         provider request, {} indexing worker(s), {} provider requests in all\n",
        args.documents, args.provider_delay_ms, args.provider_batch, args.workers, calls
    );
    println!(
        "| round | stored (docs/s) | indexed (docs/s) | chunks/s | read p50 idle / during (ms) | read p99 idle / during (ms) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for (i, r) in rounds.iter().enumerate() {
        let ms = |s: &Sample, p: f64| s.percentile(p).as_secs_f64() * 1e3;
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {:.2} / {:.2} | {:.2} / {:.2} |",
            i + 1,
            docs / r.stored_secs,
            docs / r.indexed_secs,
            r.chunks as f64 / r.indexed_secs,
            ms(&r.idle, 0.5),
            ms(&r.busy, 0.5),
            ms(&r.idle, 0.99),
            ms(&r.busy, 0.99)
        );
    }
    let ratio: Vec<f64> = rounds
        .iter()
        .map(|r| r.busy.percentile(0.5).as_secs_f64() / r.idle.percentile(0.5).as_secs_f64().max(1e-9))
        .collect();
    println!(
        "\nmedian read p50 during a job / idle: {:.2}x; median indexing rate {:.1} chunks/s",
        median(ratio),
        median(rounds.iter().map(|r| r.chunks as f64 / r.indexed_secs).collect())
    );
}
