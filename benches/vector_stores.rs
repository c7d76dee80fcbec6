//! Milvus against pgvector on the same 100,000 vectors, in the same run
//! (issue 15): ingest and migrate rows/s, recall@10 against exact search,
//! p50/p99 at one client and req/s at each concurrency, all through the API
//! (`searchDocuments`, VECTOR, limit 10).
//!
//! Recreates `screenplay_bench` on the local development cluster, COPYs the
//! vectors (100 clusters, one workspace) into the HNSW-indexed table, runs
//! the `vectors migrate --to milvus` code path into a fresh collection
//! (HNSW, M=16, efConstruction=200), then COPYs `--ingest` more with the
//! mirror on (pgvector's ingest) and drains them (Milvus's). Two servers
//! share the database: one searching pgvector, one Milvus. A third of the
//! queries fall between two clusters.
//!
//! ```sh
//! cargo bench --bench vector_stores -- --milvus-url http://127.0.0.1:19530 \
//!     [--vectors 100000] [--ingest 10000] [--queries 200] [--rounds 3] [--seconds 5] [--concurrency 1,4]
//! ```

mod support;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use screenplay_api::{
    app::Application,
    bench::{
        copy::{CopyRow, copy_rows},
        data::{Generator, dot},
    },
    config::{Config, DatabaseArgs, MilvusConfig, MilvusIndex, ServeArgs},
    search::Milvus,
    service::vector_sync,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use support::{Dataset, load, ms};
use uuid::Uuid;

const MODEL: &str = "synthetic";

/// `searchDocuments` for `query` (VECTOR, limit 10) as a request body.
fn search_body(ws: Uuid, query: &[f32]) -> Value {
    json!({ "query": "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { document { id } } }",
        "variables": { "input": { "workspaceId": ws, "embedding": query, "embeddingModel": MODEL, "mode": "VECTOR", "limit": 10 } } })
}

/// Ten hits and no errors.
fn ten_hits(raw: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        search_documents: Vec<serde::de::IgnoredAny>,
    }
    support::answer::<Data>(raw).is_some_and(|d| d.search_documents.len() == 10)
}

fn rows(generator: &mut Generator, tenant: Uuid, ws: Uuid, range: std::ops::Range<usize>) -> Vec<CopyRow> {
    range
        .map(|i| {
            let c = generator.cluster();
            CopyRow::synthetic(tenant, ws, i, generator.vector(c))
        })
        .collect()
}

async fn one_id(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Uuid> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index(0)?)
}

/// Flushes and waits until Milvus's index covers every row.
async fn wait_indexed(milvus: &Milvus) -> anyhow::Result<Duration> {
    let started = Instant::now();
    milvus.flush().await?;
    loop {
        let (indexed, total) = milvus.index_progress().await?;
        if total > 0 && indexed >= total {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "Milvus index at {indexed}/{total}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

struct Loaded {
    vectors: Vec<(Uuid, Vec<f32>)>,
    generator: Generator,
    ws: Uuid,
}

/// COPY into pgvector, migrate to Milvus, then ingest more into both;
/// prints the rates.
async fn fill(owner: &DatabaseConnection, db: &screenplay_api::db::Db, milvus: &Milvus) -> anyhow::Result<Loaded> {
    let (n, extra): (usize, usize) = (
        support::flag("--vectors").unwrap_or(100_000),
        support::flag("--ingest").unwrap_or(10_000),
    );
    let tenant = one_id(owner, "SELECT id FROM screenplay.tenants WHERE slug = 'bench'").await?;
    let ws = one_id(owner, "SELECT id FROM screenplay.workspaces WHERE slug = 'scripts'").await?;
    let mut generator = Generator::new(42, 100, 0.6);
    let base = rows(&mut generator, tenant, ws, 0..n);
    let started = Instant::now();
    for chunk in base.chunks(10_000) {
        copy_rows(owner, chunk).await?;
    }
    let pg_load = started.elapsed();
    owner.execute_unprepared("ANALYZE screenplay.code_documents").await?;
    let started = Instant::now();
    vector_sync::start_mirror(owner).await?;
    vector_sync::drain_all(db, milvus, |_| {}).await?;
    vector_sync::mark_copied(owner).await?;
    let migrate = started.elapsed();
    let index_wait = wait_indexed(milvus).await?;
    let more = rows(&mut generator, tenant, ws, n..n + extra);
    let started = Instant::now();
    copy_rows(owner, &more).await?;
    let pg_ingest = started.elapsed();
    let started = Instant::now();
    vector_sync::drain_all(db, milvus, |_| {}).await?;
    let milvus_ingest = started.elapsed();
    let index_wait_more = wait_indexed(milvus).await?;
    let rate = |rows: usize, d: Duration| rows as f64 / d.as_secs_f64();
    println!("| step | rows | seconds | rows/s |\n|---|---:|---:|---:|");
    for (step, rows, d) in [
        ("pgvector: COPY into the HNSW-indexed table", n, pg_load),
        ("migrate to Milvus (`vectors migrate` code path)", n, migrate),
        ("Milvus: index built after the migration", n, index_wait),
        ("pgvector ingest: COPY with the mirror on", extra, pg_ingest),
        ("Milvus ingest: outbox drain of those rows", extra, milvus_ingest),
        ("Milvus: index caught up after the ingest", extra, index_wait_more),
    ] {
        println!("| {step} | {rows} | {:.1} | {:.0} |", d.as_secs_f64(), rate(rows, d));
    }
    let vectors = base.into_iter().chain(more).map(|r| (r.id, r.embedding)).collect();
    Ok(Loaded { vectors, generator, ws })
}

/// Queries (a third between two clusters) and their exact top 10.
fn queries(loaded: &mut Loaded) -> Vec<(Vec<f32>, Vec<Uuid>)> {
    let count: usize = support::flag("--queries").unwrap_or(200);
    let g = &mut loaded.generator;
    g.reseed(7);
    (0..count)
        .map(|i| {
            let (a, b) = (g.cluster(), g.cluster());
            let q = if i % 3 == 0 { g.between(a, b) } else { g.vector(a) };
            let mut scored: Vec<(f32, Uuid)> = loaded.vectors.iter().map(|(id, v)| (dot(v, &q), *id)).collect();
            scored.select_nth_unstable_by(10, |x, y| y.0.total_cmp(&x.0));
            scored.truncate(10);
            (q, scored.into_iter().map(|(_, id)| id).collect())
        })
        .collect()
}

/// Each query once per server, alternating: recall@10, p50 and p99.
async fn single_client(
    urls: [&str; 2],
    token: &str,
    ws: Uuid,
    queries: &[(Vec<f32>, Vec<Uuid>)],
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let mut stats = [(Vec::new(), 0usize), (Vec::new(), 0usize)];
    for (i, (q, truth)) in queries.iter().enumerate() {
        let body = search_body(ws, q);
        for k in [i % 2, 1 - i % 2] {
            let started = Instant::now();
            let answer = support::post(&client, urls[k], token, &body).await?;
            stats[k].0.push(started.elapsed());
            anyhow::ensure!(ten_hits(answer.to_string().as_bytes()), "bad answer: {answer}");
            let hits = answer["data"]["searchDocuments"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            stats[k].1 += hits
                .iter()
                .filter(|h| truth.iter().any(|t| h["document"]["id"] == json!(t)))
                .count();
        }
    }
    println!("\n| store | recall@10 | p50 | p99 |\n|---|---:|---:|---:|");
    for (name, (mut latencies, found)) in ["pgvector", "milvus"].into_iter().zip(stats) {
        latencies.sort();
        let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
        let recall = found as f64 / (queries.len() * 10) as f64;
        println!("| {name} | {recall:.3} | {} | {} |", ms(at(0.5)), ms(at(0.99)));
    }
    Ok(())
}

/// Interleaved rounds at each concurrency: req/s of both and the ratio.
async fn throughput(urls: [&str; 2], token: &str, ws: Uuid, queries: &[(Vec<f32>, Vec<Uuid>)]) {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        queries
            .iter()
            .map(|(q, _)| search_body(ws, q).to_string().into_bytes())
            .collect(),
    );
    let (rounds, seconds): (usize, u64) = (
        support::flag("--rounds").unwrap_or(3),
        support::flag("--seconds").unwrap_or(5),
    );
    println!(
        "\n| conns | round | pgvector req/s | p50 | p99 | milvus req/s | p50 | p99 | milvus/pgvector |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for connections in support::concurrency() {
        let mut ratios = Vec::new();
        for round in 1..=rounds {
            let time = Duration::from_secs(seconds);
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            let mut samples = [None, None];
            for k in order {
                samples[k] = Some(load(urls[k], token, &bodies, connections, time, ten_hits).await);
            }
            let [Some(pg), Some(mv)] = samples else { unreachable!() };
            let ratio = mv.rate() / pg.rate();
            println!(
                "| {connections} | {round} | {:.0} | {} | {} | {:.0} | {} | {} | {ratio:.2} |",
                pg.rate(),
                ms(pg.percentile(50.0)),
                ms(pg.percentile(99.0)),
                mv.rate(),
                ms(mv.percentile(50.0)),
                ms(mv.percentile(99.0))
            );
            ratios.push(ratio);
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "| {connections} | median | | | | | | | **{:.2}** |",
            ratios[ratios.len() / 2]
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    screenplay_api::runtime::init_tls();
    let url = support::flag::<String>("--milvus-url")
        .or_else(|| std::env::var("SCREENPLAY_MILVUS_URL").ok())
        .context("--milvus-url (or SCREENPLAY_MILVUS_URL): the Milvus to measure")?;
    let seeded = support::seeded_server(&Dataset {
        sessions: 0,
        steps: 0,
        fragments: 0,
    })
    .await?;
    let settings = MilvusConfig {
        url: url.clone(),
        token: None,
        collection: format!("bench_{}", std::process::id()),
        index: MilvusIndex::Hnsw,
        index_params: vec![("M".into(), "16".into()), ("efConstruction".into(), "200".into())],
    };
    let milvus = Milvus::connect(&settings).await?;
    let owner = Database::connect(&seeded.owner_url).await?;
    let mut loaded = fill(&owner, &seeded.server.state.db, &milvus).await?;
    let queries = queries(&mut loaded);
    let flags = [
        "--bind",
        "127.0.0.1:0",
        "--jwt-secret",
        support::SECRET,
        "--no-migrate",
        "--vector-store",
        "milvus",
        "--milvus-url",
        &url,
        "--milvus-collection",
        &settings.collection,
    ];
    let mut db_args = DatabaseArgs::at(&seeded.app_url, Some(&seeded.owner_url));
    db_args.pool_size = 32;
    let on_milvus = Application::build(Config::from_args(ServeArgs::parse_flags(&flags)?, db_args)?)
        .await?
        .spawn();
    let milvus_url = format!("http://{}/graphql", on_milvus.addr);
    let urls = [seeded.url.as_str(), milvus_url.as_str()];
    single_client(urls, &seeded.token, loaded.ws, &queries).await?;
    throughput(urls, &seeded.token, loaded.ws, &queries).await;
    on_milvus.stop().await?;
    seeded.server.stop().await?;
    Ok(())
}
